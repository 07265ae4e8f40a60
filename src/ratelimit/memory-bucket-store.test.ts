import { expect, test } from 'vitest';
import { MemoryBucketStore } from './memory-bucket-store.js';

const limits = { capacity: 3, refillPerMinute: 60 };

test('a bucket starts full, refuses when empty, and refills at the rate', async () => {
  const store = new MemoryBucketStore();
  const results = [];
  for (let i = 0; i < 4; i += 1) results.push(await store.take('k', limits, 0));
  expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
  expect(results[2]).toMatchObject({ remaining: 0, limit: 3 });
  expect(results[3]?.retryAfterMs).toBe(1000);
  expect((await store.take('k', limits, 999)).allowed).toBe(false);
  expect((await store.take('k', limits, 1000)).allowed).toBe(true);
});

test('a refused take spends nothing, and peek never spends', async () => {
  const store = new MemoryBucketStore();
  for (let i = 0; i < 3; i += 1) await store.take('k', limits, 0);
  await store.take('k', limits, 0);
  await store.peek('k', limits, 500);
  expect((await store.take('k', limits, 1000)).allowed).toBe(true);
});

test('idle buckets are forgotten once full again, so memory stays bounded whatever keys arrive', async () => {
  const store = new MemoryBucketStore(1000);
  for (let i = 0; i < 50_000; i += 1) await store.take(`attacker-${i}`, limits, i * 10);
  expect(store.size).toBeLessThanOrEqual(1000);
  const quiet = new MemoryBucketStore();
  for (let i = 0; i < 100; i += 1) await quiet.take(`k${i}`, limits, 0);
  await quiet.take('late', limits, 10 * 60_000);
  expect(quiet.size).toBeLessThan(100);
});

test('takeUpTo grants what takes of one in a row would, and the first refused decision', async () => {
  const store = new MemoryBucketStore();
  const grant = await store.takeUpTo('k', limits, 0, 5);
  expect(grant).toMatchObject({ granted: 3, allowed: false, remaining: 0, retryAfterMs: 1000 });
  const one = new MemoryBucketStore();
  const singles = [];
  for (let i = 0; i < 5; i += 1) singles.push(await one.take('k', limits, 0));
  expect(singles.filter((d) => d.allowed)).toHaveLength(3);
  expect(singles[3]).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: grant.retryAfterMs });
  expect(await store.takeUpTo('k', limits, 1500, 1)).toMatchObject({
    granted: 1,
    allowed: true,
    remaining: 0,
  });
  expect(await store.takeUpTo('k', limits, 1500, 2)).toMatchObject({ granted: 0, allowed: false });
});
