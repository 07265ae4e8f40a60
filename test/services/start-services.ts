import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { dropLeftoverDatabases, PG_HOST, PG_PORT } from './postgres.js';

/**
 * vitest global setup: makes sure the PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) that
 * the storage and rate-limit tests use are running, starting them as .ci/run does when they are
 * down, and sweeps test databases left by killed runs. When a service cannot be started it says
 * so and goes on: the tests that need it then fail with their own error (they are never skipped),
 * and every other test still runs.
 */

function answers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function postgresReady(): boolean {
  return spawnSync('pg_isready', ['-h', PG_HOST, '-p', String(PG_PORT), '-q']).status === 0;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return check();
}

async function startPostgres(): Promise<void> {
  if (postgresReady()) return;
  try {
    const version = readdirSync('/etc/postgresql')[0];
    if (!version) throw new Error('no cluster under /etc/postgresql');
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
      stdio: 'ignore',
    });
  } catch (error) {
    console.warn(
      `test services: PostgreSQL is down and could not be started (${error}); its tests will fail`,
    );
    return;
  }
  if (!(await waitFor(postgresReady, 30_000))) console.warn('test services: PostgreSQL did not become ready');
}

async function startRedis(): Promise<void> {
  if (await answers(6379)) return;
  const started = spawnSync(
    'redis-server',
    ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', ''],
    { stdio: 'ignore' },
  );
  if (started.status !== 0 || !(await waitFor(() => answers(6379), 10_000)))
    console.warn('test services: Redis is down and could not be started; its tests will fail');
}

export default async function setup(): Promise<void> {
  await Promise.all([startPostgres(), startRedis()]);
  if (postgresReady()) await dropLeftoverDatabases().catch(() => undefined);
}
