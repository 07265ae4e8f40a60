import { afterEach, beforeEach, expect, test } from 'vitest';
import { createTestApp, T0, type TestContext } from './helpers.js';

/** GET /usage/tags (issue 17.9): the dashboard offers tag keys and values from stored data. */

let ctx: TestContext;
let token: { id: number; token: string };
beforeEach(async () => {
  ctx = await createTestApp();
  token = await ctx.createToken('tags');
});
afterEach(async () => {
  await ctx.close();
});

async function record(tags: Record<string, string> | undefined, timestamp: string) {
  const response = await ctx.ingest({
    tracking_token: token.token,
    model: 'gpt-4o-mini',
    prompt_tokens: 10,
    completion_tokens: 5,
    timestamp,
    ...(tags ? { tags } : {}),
  });
  expect(response.statusCode, response.body).toBe(201);
}

test('answers every tag key with usage and its most used values, over every month', async () => {
  await record({ team: 'search', env: 'prod' }, '2026-11-20T10:00:00Z');
  await record({ team: 'search' }, '2026-10-03T10:00:00Z');
  await record({ team: 'ads', env: 'prod' }, '2026-11-21T10:00:00Z');
  await record({ team: 'billing' }, '2026-11-22T10:00:00Z');
  await record({ env: 'staging' }, '2026-11-22T11:00:00Z');
  await record({ 'feature.name': 'autocomplete' }, '2026-11-22T11:00:00Z');
  await record(undefined, '2026-11-22T12:00:00Z');
  const response = await ctx.admin('GET', '/usage/tags');
  expect(response.statusCode, response.body).toBe(200);
  expect(response.json()).toEqual({
    keys: [
      {
        key: 'team',
        requests: 4,
        distinct_values: 3,
        values: [
          { value: 'search', requests: 2 },
          { value: 'ads', requests: 1 },
          { value: 'billing', requests: 1 },
        ],
      },
      {
        key: 'env',
        requests: 3,
        distinct_values: 2,
        values: [
          { value: 'prod', requests: 2 },
          { value: 'staging', requests: 1 },
        ],
      },
      {
        key: 'feature.name',
        requests: 1,
        distinct_values: 1,
        values: [{ value: 'autocomplete', requests: 1 }],
      },
    ],
  });
  const limited = (await ctx.admin('GET', '/usage/tags?values=1')).json();
  expect(limited.keys[0]).toEqual({
    key: 'team',
    requests: 4,
    distinct_values: 3,
    values: [{ value: 'search', requests: 2 }],
  });
});

test('is empty without tagged usage and after a reset, and refuses a bad limit', async () => {
  expect((await ctx.admin('GET', '/usage/tags')).json()).toEqual({ keys: [] });
  await record({ team: 'search' }, new Date(T0).toISOString());
  expect((await ctx.admin('GET', '/usage/tags')).json().keys).toHaveLength(1);
  expect((await ctx.admin('DELETE', '/reset')).statusCode).toBe(200);
  expect((await ctx.admin('GET', '/usage/tags')).json()).toEqual({ keys: [] });
  const bad = await ctx.admin('GET', '/usage/tags?values=0');
  expect(bad.statusCode).toBe(400);
  expect(bad.json().code).toBe('invalid_request');
});

test('needs the admin key', async () => {
  const response = await ctx.app.inject({ method: 'GET', url: '/usage/tags' });
  expect(response.statusCode).toBe(401);
});
