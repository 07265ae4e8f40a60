import { afterAll, expect, test } from 'vitest';
import { createTestDatabase, dropTemplate, ensureTemplate, psql } from './postgres.js';
import { connectRedis, deleteRedisKeys, redisKeyPrefix } from './redis.js';

const prefix = redisKeyPrefix(import.meta.url);
afterAll(async () => {
  await deleteRedisKeys(prefix);
});

test('each test database is a copy of its template, and is gone once dropped', async () => {
  const template = await ensureTemplate(`services.test ${Date.now()}`, async (url) => {
    const name = new URL(url).pathname.slice(1);
    await psql('CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (7)', name);
  });
  const again = await ensureTemplate(`services.test ${template}`, async () => undefined);
  expect(again).not.toBe(template);
  await dropTemplate(again);
  const [a, b] = await Promise.all([
    createTestDatabase(import.meta.url, { template }),
    createTestDatabase(import.meta.url, { template }),
  ]);
  try {
    expect(a?.name).not.toBe(b?.name);
    expect(a?.name).toMatch(/^cg_t_services_\d+_[0-9a-f]{6}$/);
    expect(await psql('SELECT id FROM seeded', a?.name)).toEqual(['7']);
    await psql('INSERT INTO seeded VALUES (8)', a?.name);
    expect(await psql('SELECT count(*) FROM seeded', b?.name)).toEqual(['1']);
  } finally {
    await a?.drop();
    await b?.drop();
    await dropTemplate(template);
  }
  expect(await psql(`SELECT datname FROM pg_database WHERE datname IN ('${a?.name}', '${b?.name}')`)).toEqual(
    [],
  );
});

test('a Redis key prefix is this file own, and deleting it leaves other keys alone', async () => {
  expect(prefix).toMatch(/^cgtest:services:\d+:[0-9a-f]{8}:$/);
  const redis = await connectRedis();
  const other = redisKeyPrefix(import.meta.url);
  try {
    await redis.set(`${prefix}a`, '1');
    await redis.set(`${prefix}b`, '1');
    await redis.set(`${other}a`, '1');
    expect(await deleteRedisKeys(prefix)).toBe(2);
    expect(await redis.exists(`${prefix}a`, `${prefix}b`, `${other}a`)).toBe(1);
  } finally {
    await deleteRedisKeys(other);
    redis.disconnect();
  }
});
