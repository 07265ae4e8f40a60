import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';

/** The shared Redis every test may use (started by test/services/start-services.ts if down). */
export const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * A key prefix of this test file's own, so files running in parallel never see each other's keys:
 * `cgtest:<file>:<pid>:<random>:`. Pass `import.meta.url`. Delete the keys with `deleteRedisKeys`.
 */
export function redisKeyPrefix(fileUrl: string): string {
  const file = path.basename(new URL(fileUrl).pathname).replace(/\.test\.ts$/, '');
  return `cgtest:${file}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN + UNLINK, never KEYS). Returns how many there were. */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<number> {
  if (!prefix.startsWith('cgtest:')) throw new Error(`refusing to delete keys outside cgtest: (${prefix})`);
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}

/** A Redis client for looking at keys from a test; disconnect it when done. */
export async function connectRedis(url = REDIS_URL): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  return client;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

export interface PrivateRedis {
  port: number;
  url: string;
  /** SIGKILL: the port refuses connections until `start`. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the port accepts but never answers (a hung server), then resumes. */
  pause(): void;
  resume(): void;
  /** (Re)starts on the same port, empty, and waits until it answers. */
  start(): Promise<void>;
}

/**
 * A redis-server of this test's own on a free port (no persistence), for fault tests that stop
 * and restart Redis without touching the shared one. Kill it in afterAll (`kill`).
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const instance: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGCONT');
      running.kill('SIGKILL');
      await exited;
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async start() {
      if (child) return;
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      const probe = new Redis(instance.url, { lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => undefined);
      for (let attempt = 0; ; attempt += 1) {
        try {
          await probe.connect();
          await probe.ping();
          probe.disconnect();
          return;
        } catch (error) {
          probe.disconnect();
          if (attempt > 200) throw new Error(`redis-server on port ${port} did not start: ${error}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
  };
  await instance.start();
  return instance;
}
