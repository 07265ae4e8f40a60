import { afterEach, beforeEach, expect, test } from 'vitest';
import { createTestApp, type TestContext } from './helpers.js';

/**
 * Issue 17.2: unpriced usage showed as $0.00 (chart legend, top lists, `cost_usd: 0` in
 * /models?details=true). A group whose usage is all unpriced answers `cost_usd: null`; a mixed
 * group answers the priced part with its unpriced count beside it; a group with no usage costs 0.
 */

let ctx: TestContext;
let token: { id: number; token: string };
let other: { id: number; token: string };

beforeEach(async () => {
  ctx = await createTestApp();
  token = await ctx.createToken('mixed');
  other = await ctx.createToken('only-unpriced');
  // gpt-4o-mini: 1000 prompt + 500 completion tokens cost $0.00045.
  for (const [tracking, model] of [
    [token.token, 'gpt-4o-mini'],
    [token.token, 'model-without-price'],
    [other.token, 'model-without-price'],
    [other.token, 'model-without-price'],
  ] as const) {
    const response = await ctx.ingest({
      tracking_token: tracking,
      model,
      prompt_tokens: 1000,
      completion_tokens: 500,
      timestamp: '2026-11-20T10:00:00Z',
    });
    expect(response.statusCode, response.body).toBe(201);
  }
});
afterEach(async () => {
  await ctx.close();
});

const get = async (url: string) => {
  const response = await ctx.admin('GET', url);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
};

test('/models?details=true answers cost_usd null for a model with only unpriced usage', async () => {
  const body = await get('/models?details=true');
  expect(body.details).toContainEqual(
    expect.objectContaining({
      model: 'model-without-price',
      requests: 3,
      unpriced_requests: 3,
      cost_usd: null,
    }),
  );
  expect(body.details).toContainEqual(
    expect.objectContaining({ model: 'gpt-4o-mini', requests: 1, unpriced_requests: 0, cost_usd: 0.00045 }),
  );
});

test('top lists answer null for an all-unpriced item and the priced part of a mixed one', async () => {
  const models = await get('/usage/top?by=model&start=2026-11-01&end=2026-11-30');
  expect(models.items).toEqual([
    expect.objectContaining({ key: 'gpt-4o-mini', cost_usd: 0.00045, unpriced_requests: 0 }),
    expect.objectContaining({ key: 'model-without-price', cost_usd: null, unpriced_requests: 3 }),
  ]);
  const tokens = await get('/usage/top?by=token&start=2026-11-01&end=2026-11-30');
  expect(tokens.items).toEqual([
    expect.objectContaining({ label: 'mixed', requests: 2, cost_usd: 0.00045, unpriced_requests: 1 }),
    expect.objectContaining({ label: 'only-unpriced', requests: 2, cost_usd: null, unpriced_requests: 2 }),
  ]);
});

test('time series carry per-series totals; unpriced points and series are null, empty buckets 0', async () => {
  const body = await get('/usage/timeseries?start=2026-11-19&end=2026-11-20&bucket=day&group_by=model');
  const byKey = Object.fromEntries(body.series.map((s: { key: string }) => [s.key, s])) as Record<
    string,
    {
      requests: number;
      cost_usd: number | null;
      unpriced_requests: number;
      points: { cost_usd: number | null }[];
    }
  >;
  expect(byKey['model-without-price']).toMatchObject({ requests: 3, cost_usd: null, unpriced_requests: 3 });
  expect(byKey['model-without-price']?.points.map((p) => p.cost_usd)).toEqual([0, null]);
  expect(byKey['gpt-4o-mini']).toMatchObject({ requests: 1, cost_usd: 0.00045, unpriced_requests: 0 });
  const total = await get('/usage/timeseries?start=2026-11-19&end=2026-11-20&bucket=day');
  expect(total.series[0]).toMatchObject({
    key: 'total',
    requests: 4,
    cost_usd: 0.00045,
    unpriced_requests: 3,
  });
});

test('summary totals are null only when every request in the range is unpriced', async () => {
  const all = await get('/usage/summary?start=2026-11-01&end=2026-11-30');
  expect(all.current).toMatchObject({ requests: 4, cost_usd: 0.00045, unpriced_requests: 3 });
  expect(all.previous).toMatchObject({ requests: 0, cost_usd: 0, unpriced_requests: 0 });
  const unpriced = await get('/usage/summary?start=2026-11-01&end=2026-11-30&model=model-without-price');
  expect(unpriced.current).toMatchObject({ requests: 3, cost_usd: null, unpriced_requests: 3 });
});

test('a token whose usage is all unpriced lists cost_usd null, not 0', async () => {
  const { tokens } = await get('/ingest/tokens');
  expect(tokens).toContainEqual(
    expect.objectContaining({ label: 'only-unpriced', cost_usd: null, unpriced_count: 2 }),
  );
  expect(tokens).toContainEqual(
    expect.objectContaining({ label: 'mixed', cost_usd: 0.00045, unpriced_count: 1 }),
  );
});
