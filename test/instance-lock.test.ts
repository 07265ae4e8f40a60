import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';
import { DatabaseInUseError, lockDatabaseForServing } from '../src/storage/sqlite/instance-lock.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'cg-instance-lock-'));
const dbPath = path.join(dir, 'usage.sqlite');
const running: ServerProcess[] = [];
afterAll(async () => {
  for (const server of running) await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI as its own process on the test database; resolves with its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        DB_PATH: dbPath,
        SERVER_PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// Six processes start one after another (tsx compiles each): generous on a loaded machine.
test('a second server on the same SQLite file is refused, maintenance commands are not, and a killed server leaves no stale claim', {
  timeout: 180_000,
}, async () => {
  const first = await startServerProcess({ DB_PATH: dbPath });
  running.push(first);
  const created = await fetch(`${first.baseUrl}/ingest/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'app' }),
  });
  const { token } = (await created.json()) as { token: string };
  const ingested = await fetch(`${first.baseUrl}/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tracking_token: token, model: 'gpt-4o-mini', prompt_tokens: 10 }),
  });
  expect(ingested.status).toBe(201);

  const second = await cli(['serve']);
  expect(second.code).toBe(4);
  expect(second.stderr).toContain(`another Cost Guardian server is already serving ${dbPath}`);
  expect(second.stderr).toContain('use PostgreSQL and Redis (docs/deploy.md)');

  const backup = await cli(['backup', path.join(dir, 'copy.sqlite')]);
  expect(backup.code, backup.stderr).toBe(0);
  const exported = await cli(['export', '--format', 'jsonl']);
  expect(exported.code, exported.stderr).toBe(0);
  expect(exported.stdout.trim().split('\n')).toHaveLength(1);
  expect((await cli(['tokens', 'list'])).code).toBe(0);

  first.child.kill('SIGKILL');
  await first.stop();
  expect(existsSync(`${dbPath}.serve-lock`)).toBe(true);
  const after = await startServerProcess({ DB_PATH: dbPath });
  running.push(after);
  const rows = await fetch(`${after.baseUrl}/data`);
  expect(((await rows.json()) as { data: unknown[] }).data).toHaveLength(1);
  expect(await after.stop()).toBe(0);
});

test('the claim counts within one process too, and is free again once released', () => {
  const file = path.join(dir, 'in-process.sqlite');
  const lock = lockDatabaseForServing(file);
  expect(() => lockDatabaseForServing(file)).toThrow(DatabaseInUseError);
  lock.release();
  lockDatabaseForServing(file).release();
});
