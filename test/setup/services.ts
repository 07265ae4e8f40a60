import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { findExecutable } from './chromium.js';

const run = promisify(execFile);

/** Where tests expect the servers (the defaults the CI machine and the common brief use). */
export const POSTGRES = { host: '127.0.0.1', port: 5432 } as const;
export const REDIS = { host: '127.0.0.1', port: 6379 } as const;

function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitListening(name: string, host: string, port: number): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt += 1) {
    if (await isListening(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${name} was started but does not listen on ${host}:${port} after 30 s`);
}

/**
 * Starts Debian's PostgreSQL cluster when nothing listens on 127.0.0.1:5432. For tests that need
 * PostgreSQL (the store contract suite once the PostgreSQL adapter lands); none does today, so no
 * project runs it yet: add it to the globalSetup of the project whose tests need it.
 */
export async function ensurePostgres(): Promise<void> {
  if (await isListening(POSTGRES.host, POSTGRES.port)) return;
  const versions = (() => {
    try {
      return readdirSync('/etc/postgresql');
    } catch {
      return [];
    }
  })();
  if (!findExecutable('pg_ctlcluster') || versions.length === 0) {
    throw new Error(
      `These tests need PostgreSQL on ${POSTGRES.host}:${POSTGRES.port} (trust auth, database "test"); nothing listens there and no Debian cluster was found (apt-get install postgresql).`,
    );
  }
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', versions.sort().at(-1) ?? '', 'main', 'start']);
  await waitListening('PostgreSQL', POSTGRES.host, POSTGRES.port);
}

/** Starts a throwaway Redis (no persistence) when nothing listens on 127.0.0.1:6379. Same status as ensurePostgres. */
export async function ensureRedis(): Promise<void> {
  if (await isListening(REDIS.host, REDIS.port)) return;
  if (!findExecutable('redis-server')) {
    throw new Error(
      `These tests need Redis on ${REDIS.host}:${REDIS.port}; nothing listens there and redis-server is not installed (apt-get install redis-server).`,
    );
  }
  await run('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    REDIS.host,
    '--port',
    String(REDIS.port),
    '--save',
    '',
  ]);
  await waitListening('Redis', REDIS.host, REDIS.port);
}

/** Vitest global setup of the `services` project. */
export default async function setup(): Promise<void> {
  await Promise.all([ensurePostgres(), ensureRedis()]);
}
