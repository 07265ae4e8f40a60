import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { VERSION } from '../src/version.js';

/**
 * Issue 17.6 and 17.12, as a new user meets them: a fresh copy of the repository with its
 * dependencies installed and nothing built, a `.env` beside it, then `npx cost-guardian` and
 * `npm start` as real processes. The first run builds once; `npm start` reads `.env` (the
 * environment wins over it) and does not build again.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_KEY = 'dotenv-admin-key-0123456789abcdef';
const OUTPUTS = ['dist/main.js', 'dist/cli.js', 'dist/web/index.html'];

let dir: string;

/** Only what a user's shell would have: no npm_* variables of the npm that runs these tests. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...extra };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-fresh-'));
  // The working tree as git sees it (committed or not, ignored files left out): no dist/, no data/.
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file !== '' && statSync(path.join(ROOT, file), { throwIfNoEntry: false })?.isFile());
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    copyFileSync(path.join(ROOT, file), path.join(dir, file));
  }
  execFileSync('chmod', ['755', path.join(dir, 'bin/cost-guardian.mjs')]);
  // As `npm install` left it (hard links take a second; nothing writes to these files).
  try {
    execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules')]);
  } catch {
    execFileSync('cp', ['-a', path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules')]);
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM, then everything the processes wrote. */
  stop: () => Promise<string>;
}

/** `npm start` in the copy, resolved once the service says where it listens. */
function npmStart(env: Record<string, string>): Promise<Started> {
  // A group of its own, as a terminal gives a command: Ctrl-C signals npm, its shell and the service.
  const child = spawn('npm', ['start'], {
    cwd: dir,
    env: userEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let text = '';
  // 'close': every holder of the output pipes, npm and the service it started, has exited.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async () => {
    // To the whole group (started above): npm runs the service under a shell that would not pass
    // the signal on. The service shuts down cleanly (src/cli/serve.ts).
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    await closed;
    return text;
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (/listening on http:\/\/\S+/.test(text)) resolve({ child, output: () => text, stop });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', () => reject(new Error(`npm start exited before listening:\n${text}`)));
  });
}

function mtimes(): number[] {
  return OUTPUTS.map((file) => statSync(path.join(dir, file)).mtimeMs);
}

test('npx cost-guardian builds a fresh clone once; npm start reads .env, the environment wins, and nothing is rebuilt', async () => {
  const [filePort, envPort] = [await freePort(), await freePort()];
  writeFileSync(
    path.join(dir, '.env'),
    [
      '# as a user writes it',
      `SERVER_PORT=${filePort}`,
      'HOST=127.0.0.1',
      `API_KEY="${ADMIN_KEY}"`,
      'INGEST_KEY=dotenv-ingest-key-0123456789abcdef',
      '',
    ].join('\n'),
  );

  // Before any build: the command builds dist/ once, on stderr, and then runs.
  const first = spawn('npx', ['cost-guardian', '--version'], { cwd: dir, env: userEnv(), stdio: 'pipe' });
  let firstOut = '';
  let firstErr = '';
  first.stdout.on('data', (chunk: Buffer) => {
    firstOut += chunk.toString();
  });
  first.stderr.on('data', (chunk: Buffer) => {
    firstErr += chunk.toString();
  });
  const firstCode = await new Promise<number | null>((resolve) => first.once('close', resolve));
  expect(firstCode, firstErr).toBe(0);
  expect(firstOut.trim()).toBe(VERSION);
  expect(firstErr).toContain('cost-guardian: building (dist/main.js is missing)');
  const built = mtimes();

  const fromFile = await npmStart({});
  try {
    const base = `http://127.0.0.1:${filePort}`;
    expect(fromFile.output()).toContain(`listening on ${base}`);
    expect(fromFile.output()).not.toContain('building');
    expect((await fetch(`${base}/ingest/tokens`)).status).toBe(401);
    expect((await fetch(`${base}/ingest/tokens`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(200);
  } finally {
    expect(await fromFile.stop()).toContain('shutdown complete');
  }

  const fromEnv = await npmStart({ SERVER_PORT: String(envPort) });
  try {
    expect(fromEnv.output()).toContain(`listening on http://127.0.0.1:${envPort}`);
    expect(fromEnv.output()).not.toContain('building');
    const response = await fetch(`http://127.0.0.1:${envPort}/ingest/tokens`, {
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(response.status).toBe(200);
  } finally {
    expect(await fromEnv.stop()).toContain('shutdown complete');
  }
  expect(mtimes()).toEqual(built);
}, 300_000);
