import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Served, serve, tempDir } from './e2e/harness.js';
import { type FakeOpenAi, startFakeOpenAi } from './fake-openai.js';
import { INGEST_KEY } from './helpers.js';

/** The TypeScript client in a real process: flushing at exit and on SIGTERM, the spool after SIGKILL. */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = path.join(ROOT, 'test/fixtures/client-child.ts');

let guardian: Served;
let fake: FakeOpenAi;
beforeAll(async () => {
  guardian = await serve();
  fake = await startFakeOpenAi();
});
afterAll(async () => {
  await guardian.close();
  await fake.close();
});

interface Child {
  process: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', CG_INGEST_KEY: INGEST_KEY, OPENAI_BASE_URL: fake.baseUrl, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { process: child, output: () => output, exited };
}

async function eventIds(tokenId: number): Promise<string[]> {
  const response = await guardian.admin('GET', `/data?ingest_token_id=${tokenId}&limit=1000`);
  return (response.json().data as { eventId: string }[]).map((row) => row.eventId).sort();
}

const ids = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, n) => `chatcmpl-${prefix}-${n}`).sort();

/** A TCP front for Cost Guardian that can be "down" (drops every connection) or pass traffic through. */
async function front(target: string) {
  const { hostname, port } = new URL(target);
  const state = { up: false };
  const server = createServer((socket) => {
    if (!state.up) return socket.destroy();
    const upstream = connect(Number(port), hostname);
    socket.pipe(upstream).pipe(socket);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function spooledLines(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => readFileSync(path.join(dir, name), 'utf8').split('\n'))
    .filter((line) => line.trim() !== '');
}

test('records queued when the app ends are sent by the beforeExit flush', async () => {
  const token = await guardian.createToken('exit-flush');
  const child = runChild({
    CHILD_MODE: 'exit',
    CHILD_CALLS: '7',
    CHILD_PREFIX: 'exit',
    CG_URL: guardian.baseUrl,
    CG_TRACKING_TOKEN: token.token,
  });
  expect(await child.exited, child.output()).toEqual({ code: 0, signal: null });
  expect(child.output()).toContain('ready {"queued":7');
  expect(await eventIds(token.id)).toEqual(ids('exit', 7));
});

test('SIGTERM flushes, then ends the process as the signal would have', async () => {
  const token = await guardian.createToken('sigterm-flush');
  const child = runChild({
    CHILD_MODE: 'sigterm',
    CHILD_CALLS: '5',
    CHILD_PREFIX: 'term',
    CG_URL: guardian.baseUrl,
    CG_TRACKING_TOKEN: token.token,
  });
  await expect.poll(() => child.output(), { timeout: 30_000 }).toContain('ready');
  child.process.kill('SIGTERM');
  expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
  expect(await eventIds(token.id)).toEqual(ids('term', 5));
});

test('records of a process killed while Cost Guardian was down are replayed from the spool at the next start, once', async () => {
  const token = await guardian.createToken('spool');
  const spool = tempDir('cg-spool-');
  const cg = await front(guardian.baseUrl);
  const crashed = runChild({
    CHILD_MODE: 'sigterm',
    CHILD_CALLS: '9',
    CHILD_PREFIX: 'spool',
    CG_URL: cg.url,
    CG_TRACKING_TOKEN: token.token,
    CG_SPOOL_DIR: spool.dir,
  });
  await expect.poll(() => crashed.output(), { timeout: 30_000 }).toContain('ready');
  await expect.poll(() => spooledLines(spool.dir).length, { timeout: 30_000 }).toBe(9);
  crashed.process.kill('SIGKILL');
  expect(await crashed.exited).toEqual({ code: null, signal: 'SIGKILL' });
  expect(await eventIds(token.id)).toEqual([]);

  cg.state.up = true;
  // Twice: the second start finds nothing left to replay.
  for (const expected of [9, 0]) {
    const replay = runChild({
      CHILD_MODE: 'replay',
      CG_URL: cg.url,
      CG_TRACKING_TOKEN: token.token,
      CG_SPOOL_DIR: spool.dir,
    });
    expect(await replay.exited, replay.output()).toEqual({ code: 0, signal: null });
    expect(JSON.parse(replay.output())).toMatchObject({ pending: 0, delivered: expected, duplicates: 0 });
  }
  expect(await eventIds(token.id)).toEqual(ids('spool', 9));
  expect(spooledLines(spool.dir)).toEqual([]);
  spool.remove();
  await cg.close();
});
