import { afterEach, beforeEach, expect, test } from 'vitest';
import { createTestApp, type TestContext } from './helpers.js';

let ctx: TestContext;
let web: { id: number; token: string };
let batch: { id: number; token: string };

beforeEach(async () => {
  ctx = await createTestApp();
  web = await ctx.createToken('web');
  batch = await ctx.createToken('batch');
});
afterEach(async () => {
  await ctx.close();
});

/** gpt-4o-mini: 1000 prompt + 500 completion tokens cost $0.00045. */
async function record(timestamp: string, extra: Record<string, unknown> = {}) {
  const response = await ctx.ingest({
    tracking_token: web.token,
    model: 'gpt-4o-mini',
    prompt_tokens: 1000,
    completion_tokens: 500,
    timestamp,
    ...extra,
  });
  expect(response.statusCode, response.body).toBe(201);
}

const get = async (url: string) => {
  const response = await ctx.admin('GET', url);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
};

test('summary totals a range and the period of equal length before it', async () => {
  await record('2026-11-05T10:00:00Z');
  await record('2026-11-20T10:00:00Z', { cached_tokens: 200, reasoning_tokens: 100 });
  await record('2026-11-21T10:00:00Z', { model: 'ft:unknown-model' });
  await record('2026-10-15T10:00:00Z');
  await record('2026-09-15T10:00:00Z');
  const body = await get('/usage/summary?start=2026-11-01&end=2026-11-30');
  expect(body.range).toEqual({ start: '2026-11-01T00:00:00Z', end: '2026-11-30T23:59:59.999Z' });
  expect(body.previous_range).toEqual({ start: '2026-10-02T00:00:00Z', end: '2026-10-31T23:59:59.999Z' });
  expect(body.current).toMatchObject({
    requests: 3,
    prompt_tokens: 3000,
    completion_tokens: 1500,
    total_tokens: 4500,
    cached_tokens: 200,
    reasoning_tokens: 100,
    unpriced_requests: 1,
  });
  expect(body.current.cost_usd).toBeCloseTo(0.00045 + 0.000435, 9);
  expect(body.previous).toMatchObject({ requests: 1, cost_usd: 0.00045, unpriced_requests: 0 });
  expect(body.source).toBe('rollups');
});

test('without start and end the range is the last 30 days ending now', async () => {
  await record('2026-11-28T11:00:00Z');
  await record('2026-10-20T11:00:00Z');
  const body = await get('/usage/summary');
  expect(body.range).toEqual({ start: '2026-10-29T12:00:00Z', end: '2026-11-28T11:59:59.999Z' });
  expect(body.current.requests).toBe(1);
  expect(body.previous.requests).toBe(1);
});

test('day buckets follow the time zone: a call at 03:00 UTC is the previous day in New York', async () => {
  await record('2026-11-20T03:00:00Z');
  const utc = await get('/usage/timeseries?start=2026-11-19&end=2026-11-20&bucket=day');
  expect(utc.series).toHaveLength(1);
  expect(utc.series[0].key).toBe('total');
  expect(utc.series[0].points.map((p: { t: string; requests: number }) => [p.t, p.requests])).toEqual([
    ['2026-11-19T00:00:00Z', 0],
    ['2026-11-20T00:00:00Z', 1],
  ]);
  const ny = await get('/usage/timeseries?start=2026-11-19&end=2026-11-20&bucket=day&tz=America/New_York');
  expect(ny.range).toEqual({ start: '2026-11-19T05:00:00Z', end: '2026-11-21T04:59:59.999Z' });
  expect(ny.series[0].points.map((p: { t: string; requests: number }) => [p.t, p.requests])).toEqual([
    ['2026-11-19T05:00:00Z', 1],
    ['2026-11-20T05:00:00Z', 0],
  ]);
});

test('half-hour zones are exact: Kolkata days start at 18:30 UTC', async () => {
  await record('2026-11-20T18:15:00Z');
  await record('2026-11-20T18:45:00Z');
  await record('2026-11-20T18:45:00Z');
  const body = await get('/usage/timeseries?start=2026-11-20&end=2026-11-21&tz=Asia/Kolkata');
  expect(body.series[0].points.map((p: { t: string; requests: number }) => [p.t, p.requests])).toEqual([
    ['2026-11-19T18:30:00Z', 1],
    ['2026-11-20T18:30:00Z', 2],
  ]);
  expect(body.source).toBe('rollups');
});

test('a DST day in New York is one 23-hour bucket', async () => {
  await record('2026-03-08T05:30:00Z');
  await record('2026-03-09T03:30:00Z');
  await record('2026-03-09T04:30:00Z');
  const body = await get('/usage/timeseries?start=2026-03-08&end=2026-03-09&tz=America/New_York');
  expect(body.series[0].points.map((p: { t: string; requests: number }) => [p.t, p.requests])).toEqual([
    ['2026-03-08T05:00:00Z', 2],
    ['2026-03-09T04:00:00Z', 1],
  ]);
});

test('weeks start on Monday and months on the first', async () => {
  await record('2026-11-01T12:00:00Z');
  await record('2026-11-02T12:00:00Z');
  const weeks = await get('/usage/timeseries?start=2026-10-26&end=2026-11-08&bucket=week');
  expect(weeks.series[0].points.map((p: { t: string; requests: number }) => [p.t, p.requests])).toEqual([
    ['2026-10-26T00:00:00Z', 1],
    ['2026-11-02T00:00:00Z', 1],
  ]);
  const months = await get('/usage/timeseries?start=2026-10-15&end=2026-11-15&bucket=month');
  expect(months.series[0].points.map((p: { t: string; requests: number }) => [p.t, p.requests])).toEqual([
    ['2026-10-01T00:00:00Z', 0],
    ['2026-11-01T00:00:00Z', 2],
  ]);
});

test('grouping by token labels each series, also for a deleted token, ranked by cost', async () => {
  await record('2026-11-20T10:00:00Z');
  await record('2026-11-20T11:00:00Z', { tracking_token: batch.token, model: 'gpt-4o' });
  expect((await ctx.admin('DELETE', `/ingest/tokens/${batch.id}`)).statusCode).toBe(200);
  const body = await get('/usage/timeseries?start=2026-11-20&end=2026-11-20&group_by=token');
  expect(body.group_by).toBe('token');
  expect(body.series.map((s: { key: string; label: string }) => [s.key, s.label])).toEqual([
    [String(batch.id), 'batch'],
    [String(web.id), 'web'],
  ]);
  const top = await get('/usage/top?by=token&start=2026-11-20&end=2026-11-20');
  expect(top.items.map((item: { label: string; requests: number }) => [item.label, item.requests])).toEqual([
    ['batch', 1],
    ['web', 1],
  ]);
});

test('grouping by a tag has a series for rows without that tag, and folds the rest into Other', async () => {
  await record('2026-11-20T10:00:00Z', { tags: { team: 'search' } });
  await record('2026-11-20T10:00:00Z', { tags: { team: 'search' } });
  await record('2026-11-20T10:00:00Z', { tags: { team: 'ads' }, model: 'gpt-4o' });
  await record('2026-11-20T10:00:00Z', { tags: { env: 'prod' } });
  const body = await get('/usage/timeseries?start=2026-11-20&end=2026-11-20&group_by=tag:team');
  expect(body.series.map((s: { key: string; label: string }) => [s.key, s.label])).toEqual([
    ['ads', 'ads'],
    ['search', 'search'],
    ['', '(no team)'],
  ]);
  const limited = await get('/usage/timeseries?start=2026-11-20&end=2026-11-20&group_by=tag:team&limit=1');
  expect(
    limited.series.map((s: { key: string; points: { requests: number }[] }) => [
      s.key,
      s.points[0]?.requests,
    ]),
  ).toEqual([
    ['ads', 1],
    ['__other__', 3],
  ]);
});

test('top ranks users and models by cost within the filter', async () => {
  await record('2026-11-20T10:00:00Z', { user: 'alice', model: 'gpt-4o' });
  await record('2026-11-20T10:00:00Z', { user: 'bob' });
  await record('2026-11-20T10:00:00Z', { user: 'bob' });
  await record('2026-11-20T10:00:00Z', { tracking_token: batch.token, user: 'carol', model: 'gpt-4o' });
  const users = await get(`/usage/top?by=user&ingest_token_id=${web.id}&start=2026-11-20&end=2026-11-20`);
  expect(users.items.map((i: { key: string; requests: number }) => [i.key, i.requests])).toEqual([
    ['alice', 1],
    ['bob', 2],
  ]);
  const models = await get('/usage/top?by=model&limit=1&start=2026-11-20&end=2026-11-20');
  expect(models.items).toEqual([
    {
      key: 'gpt-4o',
      label: 'gpt-4o',
      requests: 2,
      cost_usd: 0.015,
      total_tokens: 3000,
      unpriced_requests: 0,
    },
  ]);
});

test('a filter on a user and a tag together is answered from the raw rows, with the same numbers', async () => {
  await record('2026-11-20T10:00:00Z', { user: 'alice', tags: { team: 'search' } });
  await record('2026-11-20T10:30:00Z', { user: 'alice', tags: { team: 'ads' } });
  await record('2026-11-20T11:00:00Z', { user: 'bob', tags: { team: 'search' } });
  const both = await get('/usage/summary?start=2026-11-20&end=2026-11-20&user=alice&tag=team:search');
  expect(both.source).toBe('raw');
  expect(both.current.requests).toBe(1);
  const one = await get('/usage/summary?start=2026-11-20&end=2026-11-20&tag=team:search');
  expect(one.source).toBe('rollups');
  expect(one.current.requests).toBe(2);
  const several = await get(
    '/usage/top?by=user&tag=team:search&tag=team:ads&start=2026-11-20&end=2026-11-20',
  );
  expect(several).toMatchObject({ source: 'raw', items: [] });
});

test('a raw-row question past its time limit answers 503 in the error shape; other reads do not wait for it', async () => {
  // 1 ms: no worker can even start in that time, so every scan is stopped.
  const slow = await createTestApp({}, { store: { scanTimeoutMs: 1 } });
  try {
    const { token } = await slow.createToken('web');
    const sent = await slow.ingest({
      tracking_token: token,
      model: 'gpt-4o-mini',
      prompt_tokens: 1000,
      completion_tokens: 500,
      timestamp: '2026-11-20T10:00:00Z',
      user: 'alice',
      tags: { team: 'search' },
    });
    expect(sent.statusCode).toBe(201);
    const scan = '/usage/summary?start=2026-11-20&end=2026-11-20&user=alice&tag=team:search';
    for (let attempt = 0; attempt < 2; attempt += 1) {
      // The second time a new worker is started, and stopped again: the same answer, never a 500.
      const refused = await slow.admin('GET', scan);
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.json()).toMatchObject({
        status: 'error',
        code: 'unavailable',
        message: expect.stringMatching(/cannot be answered from the rollups.*narrow the time range/),
        requestId: expect.any(String),
      });
    }
    // Questions the rollups answer, and the other reads, run on the other worker.
    const fromRollups = await slow.admin('GET', '/usage/summary?start=2026-11-20&end=2026-11-20&user=alice');
    expect(fromRollups.statusCode).toBe(200);
    expect(fromRollups.json()).toMatchObject({ source: 'rollups', current: { requests: 1 } });
    expect((await slow.admin('GET', '/data')).json().data).toHaveLength(1);
  } finally {
    await slow.close();
  }
});

test.each([
  ['/usage/timeseries?group_by=colour', /group_by must be one of/],
  ['/usage/timeseries?group_by=tag:bad%20key', /group_by must be one of/],
  ['/usage/top?by=day', /by must be one of/],
  ['/usage/top', /by/],
  ['/usage/summary?start=2026-11-20&end=2026-11-01', /Start date cannot be after end date/],
  ['/usage/summary?start=2026-12-20', /Start date cannot be after end date/],
  ['/usage/summary?tz=Mars/Olympus_Mons', /tz must be an IANA time zone/],
  ['/usage/timeseries?tz=', /tz must be an IANA time zone/],
  ['/usage/timeseries?bucket=minute', /bucket/],
  ['/usage/timeseries?bucket=hour&start=2025-01-01&end=2026-01-01', /more than 5000 hour buckets/],
  ['/usage/timeseries?limit=0', /limit/],
  ['/usage/top?by=model&limit=1001', /limit/],
  ['/usage/summary?start=yesterday', /Invalid start date format/],
  ['/usage/summary?tag=team', /tag must look like key:value/],
  ['/usage/summary?ingest_token_id=abc', /ingest_token_id/],
])('GET %s is a 400 in the error shape', async (url, message) => {
  const response = await ctx.admin('GET', url);
  expect(response.statusCode).toBe(400);
  expect(response.json()).toMatchObject({ status: 'error', code: 'invalid_request' });
  expect(response.json().message).toMatch(message);
});

test('the analytics endpoints need the admin key', async () => {
  const response = await ctx.app.inject({ method: 'GET', url: '/usage/summary' });
  expect(response.statusCode).toBe(401);
});

test('the token list, /models and /metrics counts come from the rollups and follow a reset', async () => {
  await record('2026-11-20T10:00:00Z');
  await record('2026-10-20T10:00:00Z', { model: 'ft:unknown-model' });
  await record('2026-11-21T10:00:00Z', { tracking_token: batch.token, model: 'gpt-4o' });
  const tokens = (await get('/ingest/tokens')).tokens as {
    label: string;
    usage_count: number;
    cost_usd: number;
    unpriced_count: number;
  }[];
  expect(tokens.map((t) => [t.label, t.usage_count, t.cost_usd, t.unpriced_count])).toEqual([
    ['batch', 1, 0.0075, 0],
    ['web', 2, 0.00045, 1],
  ]);
  expect((await get('/models')).models).toEqual(['ft:unknown-model', 'gpt-4o', 'gpt-4o-mini']);
  expect((await get('/metrics')).db.usage_rows).toBe(3);
  await ctx.admin('DELETE', '/reset');
  expect(
    ((await get('/ingest/tokens')).tokens as { usage_count: number }[]).map((t) => t.usage_count),
  ).toEqual([0, 0]);
  expect((await get('/models')).models).toEqual([]);
  expect((await get('/metrics')).db.usage_rows).toBe(0);
});
