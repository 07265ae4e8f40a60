import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type App, buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { Metrics } from '../src/metrics/metrics.js';
import type { BucketLimits } from '../src/ratelimit/bucket-store.js';
import { MemoryBucketStore } from '../src/ratelimit/memory-bucket-store.js';
import { watchBucketStore } from '../src/ratelimit/open-bucket-store.js';
import { RedisBucketStore, type RedisBucketStoreOptions } from '../src/ratelimit/redis-bucket-store.js';
import { createSqliteStore, type SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import { ADMIN_KEY, INGEST_KEY } from './helpers.js';
import { startServerProcess } from './server-process.js';
import {
  connectRedis,
  deleteRedisKeys,
  type PrivateRedis,
  REDIS_URL,
  redisKeyPrefix,
  startPrivateRedis,
} from './services/redis.js';

/**
 * The Redis rate-limit store against real Redis servers: the shared one (127.0.0.1:6379, under this
 * file's own key prefix) for admission and sharing, and a private redis-server of this file's own
 * for outages. Time is the Redis server's: tests use refill rates so slow (1 a minute) that no
 * token comes back while they run, and count; where a refill must be seen, they move the bucket's
 * stored "full at" time back instead of waiting.
 */

const prefix = redisKeyPrefix(import.meta.url);
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(async () => {
  await deleteRedisKeys(prefix);
});

const SLOW: BucketLimits = { capacity: 5, refillPerMinute: 1 };
let keyCount = 0;
const freshKey = () => {
  keyCount += 1;
  return `key-${keyCount}`;
};

async function openStore(options: Partial<RedisBucketStoreOptions> = {}): Promise<RedisBucketStore> {
  const store = await RedisBucketStore.connect({
    url: REDIS_URL,
    keyPrefix: prefix,
    commandTimeoutMs: 1000,
    failureMode: 'local',
    ...options,
  });
  cleanup.push(() => store.close());
  return store;
}

describe('one bucket on the Redis server', () => {
  test('a burst gets exactly the capacity, whatever clock the caller passes', async () => {
    const store = await openStore();
    const key = freshKey();
    const decisions = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.take(key, SLOW, i % 2 === 0 ? 0 : 9e15)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    expect(
      decisions
        .filter((d) => d.allowed)
        .map((d) => d.remaining)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4]);
    const refused = decisions.find((d) => !d.allowed);
    // The next token is a minute away at 1 a minute (less the few ms the burst took).
    expect(refused?.retryAfterMs).toBeGreaterThan(55_000);
    expect(refused?.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(refused).toMatchObject({ limit: 5, remaining: 0 });
  });

  test('decisions asked in one turn go to Redis together and are decided in the order asked', async () => {
    const store = await openStore();
    const [a, b] = [freshKey(), freshKey()];
    const two = { capacity: 2, refillPerMinute: 1 };
    const decisions = await Promise.all([
      store.take(a, two, 0),
      store.peek(b, two, 0),
      store.takeUpTo(b, two, 0, 3),
      store.take(a, two, 0),
      store.peek(a, two, 0),
      store.take(a, two, 0),
      store.take(b, two, 0),
    ]);
    expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 1],
      [true, 2],
      [false, 0],
      [true, 0],
      [false, 0],
      [false, 0],
      [false, 0],
    ]);
  });

  test('takes from two connections at once never spend a token twice', async () => {
    const [a, b] = [await openStore(), await openStore()];
    const key = freshKey();
    const limits = { capacity: 20, refillPerMinute: 1 };
    const decisions = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).take(key, limits, 0)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
  });

  test('tokens come back at the refill rate, measured on the server clock', async () => {
    const store = await openStore();
    const redis = await connectRedis();
    cleanup.push(async () => redis.disconnect());
    const key = freshKey();
    const limits = { capacity: 3, refillPerMinute: 1 };
    expect((await store.takeUpTo(key, limits, 0, 3)).granted).toBe(3);
    expect((await store.take(key, limits, 0)).allowed).toBe(false);
    // Two and a half minutes pass for this bucket: its "full at" time moves 150 s earlier.
    const fullAtUs = Number(await redis.get(prefix + key));
    const ttlMs = await redis.pttl(prefix + key);
    await redis.set(prefix + key, String(fullAtUs - 150_000_000), 'PX', ttlMs - 150_000);
    const grant = await store.takeUpTo(key, limits, 0, 10);
    expect(grant).toMatchObject({ granted: 2, allowed: false, remaining: 0 });
    expect(grant.retryAfterMs).toBeGreaterThan(25_000);
    expect(grant.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  test('takeUpTo grants what takes of one in a row would, like the memory store', async () => {
    const store = await openStore();
    const memory = new MemoryBucketStore();
    const key = freshKey();
    for (const count of [2, 4, 1]) {
      const shared = await store.takeUpTo(key, SLOW, 0, count);
      const local = await memory.takeUpTo(key, SLOW, 0, count);
      expect({ granted: shared.granted, allowed: shared.allowed, remaining: shared.remaining }).toEqual({
        granted: local.granted,
        allowed: local.allowed,
        remaining: local.remaining,
      });
    }
  });

  test('peek spends nothing and stores nothing', async () => {
    const store = await openStore();
    const redis = await connectRedis();
    cleanup.push(async () => redis.disconnect());
    const key = freshKey();
    expect(await store.peek(key, SLOW, 0)).toMatchObject({ allowed: true, remaining: 5 });
    expect(await redis.exists(prefix + key)).toBe(0);
    await store.take(key, SLOW, 0);
    const stored = await redis.get(prefix + key);
    expect(await store.peek(key, SLOW, 0)).toMatchObject({ allowed: true, remaining: 4 });
    expect(await redis.get(prefix + key)).toBe(stored);
  });

  test('a key expires when its bucket is full again, so idle buckets cost Redis nothing', async () => {
    const store = await openStore();
    const redis = await connectRedis();
    cleanup.push(async () => redis.disconnect());
    const slowKey = freshKey();
    await store.takeUpTo(slowKey, { capacity: 10, refillPerMinute: 1 }, 0, 3);
    const ttlMs = await redis.pttl(prefix + slowKey);
    expect(ttlMs).toBeGreaterThan(175_000);
    expect(ttlMs).toBeLessThanOrEqual(180_000);
    // 60,000 a minute is one a millisecond: a bucket short of one token is full again at once.
    const fastKey = freshKey();
    await store.take(fastKey, { capacity: 2, refillPerMinute: 60_000 }, 0);
    await expect.poll(() => redis.exists(prefix + fastKey), { timeout: 10_000 }).toBe(0);
  });
});

interface Instance {
  app: App;
  metrics: Metrics;
}

/** `count` app instances on one SQLite file, with buckets opened from the config (REDIS_URL). */
async function startInstances(env: Record<string, string>, count = 2) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-redis-'));
  const config = testConfig({
    API_KEY: ADMIN_KEY,
    INGEST_KEY,
    DB_PATH: path.join(dir, 'usage.sqlite'),
    RATE_LIMIT_RPM: '100000',
    AUTH_FAILURES_PER_MINUTE: '1000',
    REDIS_URL,
    REDIS_KEY_PREFIX: `${prefix}${freshKey()}:`,
    ...env,
  });
  const store: SqliteStore = createSqliteStore(config.dbPath);
  const instances: Instance[] = [];
  for (let i = 0; i < count; i += 1) {
    const metrics = new Metrics();
    instances.push({ app: await buildApp({ config, store, metrics }), metrics });
  }
  cleanup.push(async () => {
    for (const { app } of instances) await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const on = (i: number) => (instances[i % count] as Instance).app;
  const token = async () => {
    const response = await on(0).inject({
      method: 'POST',
      url: '/ingest/tokens',
      headers: { 'x-api-key': ADMIN_KEY },
      payload: { label: `app-${freshKey()}` },
    });
    return (response.json() as { token: string }).token;
  };
  const ingest = (i: number, body: object) =>
    on(i).inject({ method: 'POST', url: '/ingest', headers: { 'x-ingest-key': INGEST_KEY }, payload: body });
  const prometheus = async (i: number) =>
    (await on(i).inject({ method: 'GET', url: '/metrics/prometheus', headers: { 'x-api-key': ADMIN_KEY } }))
      .body;
  return { instances, on, token, ingest, prometheus };
}

const record = (token: string, n: number) => ({
  tracking_token: token,
  event_id: `chatcmpl-${n}-${Math.random()}`,
  model: 'gpt-4o-mini',
  prompt_tokens: 10,
  completion_tokens: 5,
});

describe('several instances share one bucket through REDIS_URL', () => {
  test('a burst of ingest across two instances is admitted exactly as one bucket', async () => {
    const { token, ingest } = await startInstances({ INGEST_BURST: '7', INGEST_RPM: '1' });
    const tracking = await token();
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => ingest(i, record(tracking, i))));
    expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(7);
    const refused = responses.filter((r) => r.statusCode === 429);
    expect(refused).toHaveLength(13);
    expect(Number(refused[0]?.headers['retry-after'])).toBeGreaterThan(50);
  });

  test('batches on two instances share the bucket record by record', async () => {
    const { token, on } = await startInstances({ INGEST_BURST: '7', INGEST_RPM: '1' });
    const tracking = await token();
    const batch = (i: number) =>
      on(i).inject({
        method: 'POST',
        url: '/ingest/batch',
        headers: { 'x-ingest-key': INGEST_KEY },
        payload: { records: Array.from({ length: 5 }, (_, n) => record(tracking, i * 10 + n)) },
      });
    const [a, b] = await Promise.all([batch(0), batch(1)]);
    const bodies = [a, b].map((r) => r.json() as { created: number; results: { code?: string }[] });
    expect(bodies.map((body) => body.created).reduce((x, y) => x + y)).toBe(7);
    const refused = bodies.flatMap((body) => body.results).filter((r) => r.code === 'rate_limited');
    expect(refused).toHaveLength(3);
  });

  test('the admin limit and the failed-key lockout hold across instances', async () => {
    const { on } = await startInstances({
      RATE_LIMIT_RPM: '1',
      RATE_LIMIT_BURST: '6',
      AUTH_FAILURES_PER_MINUTE: '3',
    });
    const list = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        on(i).inject({ method: 'GET', url: '/ingest/tokens', headers: { 'x-api-key': ADMIN_KEY } }),
      ),
    );
    expect(list.filter((r) => r.statusCode === 200)).toHaveLength(6);
    const wrong = [];
    for (let i = 0; i < 6; i += 1) {
      wrong.push(
        (
          await on(i).inject({
            method: 'POST',
            url: '/ingest',
            headers: { 'x-ingest-key': 'wrong' },
            payload: {},
          })
        ).statusCode,
      );
    }
    expect(wrong).toEqual([401, 401, 401, 429, 429, 429]);
  });
});

describe('when Redis stops answering', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.kill();
  });
  afterEach(async () => {
    await redis.start();
  });

  const up = (text: string) => /^cg_rate_limit_store_up (\d)/m.exec(text)?.[1];
  const outages = (text: string) => /^cg_rate_limit_store_outages_total (\d+)/m.exec(text)?.[1];

  test('"local" falls back to per-instance buckets, counts one outage, and shares again once Redis is back', async () => {
    const { token, ingest, prometheus } = await startInstances({
      REDIS_URL: redis.url,
      REDIS_TIMEOUT_MS: '100',
      INGEST_BURST: '3',
      INGEST_RPM: '1',
    });
    const tracking = await token();
    const statuses = async (from: number, n: number) => {
      const codes = [];
      for (let i = 0; i < n; i += 1) codes.push((await ingest(0, record(tracking, from + i))).statusCode);
      return codes;
    };
    expect(await statuses(0, 4)).toEqual([201, 201, 201, 429]);
    expect(up(await prometheus(0))).toBe('1');

    await redis.kill();
    // This instance's own bucket starts full: per instance, the limit holds again from zero.
    expect(await statuses(10, 4)).toEqual([201, 201, 201, 429]);
    expect(await statuses(20, 5)).toEqual([429, 429, 429, 429, 429]);
    let text = await prometheus(0);
    expect(up(text)).toBe('0');
    expect(outages(text)).toBe('1');

    await redis.start();
    await expect.poll(async () => up(await prometheus(0)), { timeout: 20_000, interval: 200 }).toBe('1');
    // The restarted Redis is empty, so the shared bucket is full again; and it is Redis that counts.
    expect(await statuses(30, 4)).toEqual([201, 201, 201, 429]);
    const client = await connectRedis(redis.url);
    cleanup.push(async () => client.disconnect());
    expect((await client.keys('*ingest:*')).length).toBe(1);
    text = await prometheus(0);
    expect(outages(text)).toBe('1');
  });

  test('"open" lets every request through, but never the failed-key lockout', async () => {
    const { token, ingest, on } = await startInstances({
      REDIS_URL: redis.url,
      REDIS_TIMEOUT_MS: '100',
      RATE_LIMIT_REDIS_FAILURE: 'open',
      INGEST_BURST: '2',
      INGEST_RPM: '1',
      AUTH_FAILURES_PER_MINUTE: '2',
    });
    const tracking = await token();
    await redis.kill();
    const codes = [];
    for (let i = 0; i < 6; i += 1) codes.push((await ingest(i, record(tracking, i))).statusCode);
    expect(codes).toEqual([201, 201, 201, 201, 201, 201]);
    const wrongKey = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await on(0).inject({
        method: 'POST',
        url: '/ingest',
        headers: { 'x-ingest-key': 'wrong' },
        payload: record(tracking, 100 + i),
      });
      wrongKey.push(response.statusCode);
    }
    expect(wrongKey).toEqual([401, 401, 429, 429]);
  });

  test('a hung Redis costs a request at most the command timeout, once, then is skipped until it answers', async () => {
    const store = await openStore({ url: redis.url, commandTimeoutMs: 100, probeIntervalMs: 100 });
    const log: string[] = [];
    const changes: boolean[] = [];
    watchBucketStore(
      store,
      {
        warn: (_, message) => log.push(`warn ${message}`),
        info: (_, message) => log.push(`info ${message}`),
      },
      (isUp) => changes.push(isUp),
      'local',
    );
    const key = freshKey();
    expect((await store.takeUpTo(key, SLOW, 0, 5)).granted).toBe(5);
    redis.pause();
    cleanup.push(async () => redis.resume());
    // The first take waits for the timeout, then uses this instance's bucket (full: it never saw
    // the five taken in Redis); the next ones do not ask Redis at all.
    const whileHung = [];
    for (let i = 0; i < 8; i += 1) whileHung.push((await store.take(key, SLOW, 0)).allowed);
    expect(whileHung).toEqual([true, true, true, true, true, false, false, false]);
    expect(store.isUp).toBe(false);
    redis.resume();
    await expect.poll(() => store.isUp, { timeout: 20_000 }).toBe(true);
    expect((await store.take(key, SLOW, 0)).allowed).toBe(false);
    expect(changes).toEqual([false, true]);
    expect(log).toHaveLength(2);
    expect(log[0]).toMatch(/^warn rate limits: Redis is unreachable; using per-instance buckets/);
    expect(log[1]).toMatch(/^info rate limits: Redis answers again/);
  });

  test('an instance that starts while Redis is down serves from its own buckets and joins once Redis is up', async () => {
    await redis.kill();
    const store = await openStore({ url: redis.url, commandTimeoutMs: 100, probeIntervalMs: 100 });
    const changes: boolean[] = [];
    store.watch((status) => changes.push(status.up));
    expect(store.isUp).toBe(false);
    expect(changes).toEqual([false]);
    const key = freshKey();
    expect((await store.takeUpTo(key, SLOW, 0, 9)).granted).toBe(5);
    await redis.start();
    await expect.poll(() => store.isUp, { timeout: 20_000 }).toBe(true);
    expect(changes).toEqual([false, true]);
    expect((await store.takeUpTo(key, SLOW, 0, 9)).granted).toBe(5);
  });
});

describe('two service processes', () => {
  test('share one ingest bucket through Redis, report an outage once, and shut down cleanly', {
    timeout: 180_000,
  }, async () => {
    const redis = await startPrivateRedis();
    cleanup.push(() => redis.kill());
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-redis-procs-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    // One SQLite file admits one server, so each process has its own; token 1 is the first
    // token in each, so both ask Redis for the same bucket, `ingest:1`.
    const env = (name: string) => ({
      DB_PATH: path.join(dir, `${name}.sqlite`),
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `${prefix}procs:`,
      REDIS_TIMEOUT_MS: '100',
      INGEST_BURST: '6',
      INGEST_RPM: '1',
    });
    const servers = [await startServerProcess(env('a')), await startServerProcess(env('b'))];
    cleanup.push(async () => {
      for (const server of servers) await server.stop();
    });
    const tokens: string[] = [];
    for (const server of servers) {
      const created = await fetch(`${server.baseUrl}/ingest/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ label: 'app' }),
      });
      tokens.push(((await created.json()) as { id: number; token: string }).token);
    }
    const send = (i: number) =>
      fetch(`${servers[i % 2]?.baseUrl}/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(record(tokens[i % 2] as string, i)),
      }).then((r) => r.status);
    const burst = await Promise.all(Array.from({ length: 16 }, (_, i) => send(i)));
    expect(burst.filter((status) => status === 201)).toHaveLength(6);
    expect(burst.filter((status) => status === 429)).toHaveLength(10);

    await redis.kill();
    const during = [];
    for (let i = 0; i < 5; i += 1) during.push(await send(100 + i));
    expect(during.filter((status) => status === 201).length).toBeGreaterThan(0);
    await redis.start();
    for (const server of servers) {
      await expect
        .poll(() => server.output().match(/Redis answers again/g)?.length ?? 0, { timeout: 20_000 })
        .toBe(1);
      expect(server.output().match(/Redis is unreachable/g)).toHaveLength(1);
    }
    for (const server of servers) expect(await server.stop()).toBe(0);
  });
});
