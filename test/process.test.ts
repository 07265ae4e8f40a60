import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
// The server runs from a temp working directory, so tsx is named by its file, not its package name.
const TSX = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Server {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the real entry point (src/main.ts through tsx) with exactly `env`, and waits for its listen line. */
async function startServer(env: Record<string, string>, cwd: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', TSX, path.join(root, 'src/main.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk) => {
    text += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    text += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = Date.now();
  while (!/listening on/.test(text)) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${text}`);
    if (Date.now() - started > 20_000) throw new Error(`server did not start:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => text, exited };
}

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-proc-'));
  dirs.push(dir);
  return dir;
}

test('with no environment the service starts in development on loopback, in ./data, and says what is not secured', async () => {
  const cwd = tempDir();
  const server = await startServer({ SERVER_PORT: '0' }, cwd);
  try {
    const lines = server.output().split('\n').filter(Boolean).slice(0, 8).join('\n');
    expect(lines).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(development mode\)/);
    expect(lines).toMatch(/Admin API is NOT secured: API_KEY is not set/);
    expect(lines).toMatch(/Ingest is NOT secured: INGEST_KEY is not set/);
    expect(lines).toContain(path.join(cwd, 'data', 'usage_log.sqlite'));
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});

test('production without keys refuses to start and names what is missing', async () => {
  const child = spawn(process.execPath, ['--import', TSX, path.join(root, 'src/main.ts')], {
    cwd: tempDir(),
    env: { PATH: process.env.PATH ?? '', ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stderr?.on('data', (chunk) => {
    text += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(3); // the CLI's configuration-error status (docs/operations.md)
  expect(text).toMatch(/API_KEY is required when ENV=production/);
  expect(text).toMatch(/INGEST_KEY is required when ENV=production/);
});

test('SIGTERM stops accepting, finishes in-flight writes, closes the database and exits 0', async () => {
  const cwd = tempDir();
  const dbPath = path.join(cwd, 'usage.sqlite');
  const server = await startServer(
    {
      SERVER_PORT: '0',
      DB_PATH: dbPath,
      API_KEY: 'admin-key-000000000000',
      INGEST_KEY: 'ingest-key-00000000000',
      HOST: '127.0.0.1',
      INGEST_RPM: '1000000',
    },
    cwd,
  );
  const base = /listening on (http:\/\/[\d.:]+)/.exec(server.output())?.[1] ?? '';
  const created = await fetch(`${base}/ingest/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'admin-key-000000000000' },
    body: JSON.stringify({ label: 'shutdown' }),
  });
  const { token } = (await created.json()) as { token: string };

  const inFlight = Array.from({ length: 200 }, (_, i) =>
    fetch(`${base}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ingest-key': 'ingest-key-00000000000' },
      body: JSON.stringify({
        tracking_token: token,
        model: 'gpt-4o-mini',
        prompt_tokens: 10,
        event_id: `sd-${i}`,
      }),
    })
      .then(async (r) => ({ status: r.status, body: (await r.json()) as { id?: number } }))
      .catch(() => ({ status: 0, body: {} as { id?: number } })),
  );
  // Signal as soon as the first answer arrives: the rest are in flight on their sockets.
  await Promise.race(inFlight);
  server.child.kill('SIGTERM');
  const results = await Promise.all(inFlight);
  const exitCode = await server.exited;
  expect(exitCode, server.output().slice(-3000)).toBe(0);
  expect(server.output()).toMatch(/shutdown complete/);

  const acknowledged = results.filter((r) => r.status === 201).map((r) => r.body.id);
  expect(acknowledged.length, JSON.stringify(results.map((r) => r.status))).toBeGreaterThan(1);
  const db = new Database(dbPath, { readonly: true });
  const stored = new Set((db.prepare('SELECT id FROM usage_log').all() as { id: number }[]).map((r) => r.id));
  db.close();
  for (const id of acknowledged) expect(stored.has(id as number)).toBe(true);
  // Nothing answered with a server error during shutdown.
  expect(results.filter((r) => r.status >= 500 && r.status !== 503)).toEqual([]);
});
