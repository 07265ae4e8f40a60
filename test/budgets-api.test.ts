import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

/** /budgets through the real app: CRUD, the verdict in ingest answers, and spend = /usage/summary. */

let ctx: TestContext;
let token: { id: number; token: string };
beforeEach(async () => {
  ctx = await createTestApp();
  token = await ctx.createToken('prod');
});
afterEach(async () => {
  await ctx.close();
});

const NOW = Date.UTC(2026, 10, 20, 12);

function record(extra: Record<string, unknown> = {}) {
  return {
    tracking_token: token.token,
    model: 'gpt-4o-mini-2024-07-18',
    prompt_tokens: 1000,
    completion_tokens: 500,
    ...extra,
  };
}

async function createBudget(body: Record<string, unknown>) {
  const response = await ctx.admin('POST', '/budgets', body);
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

describe('CRUD', () => {
  test('a budget is created with defaults, listed with its window, changed and deleted', async () => {
    ctx.clock.set(NOW);
    const created = await createBudget({
      name: 'Team',
      limit_usd: 100,
      window: { kind: 'month', tz: 'Europe/Paris' },
    });
    expect(created).toMatchObject({
      name: 'Team',
      limit_usd: 100,
      window: { kind: 'month', tz: 'Europe/Paris' },
      window_label: 'month in Europe/Paris',
      scope: {},
      scope_label: 'everything',
      thresholds: [50, 80, 100],
      forecast_alert: false,
      channel_ids: null,
      counted: true,
      current: {
        start: '2026-10-31T23:00:00Z',
        end: '2026-11-30T23:00:00Z',
        spent_usd: 0,
        remaining_usd: 100,
        verdict: 'ok',
        unpriced_requests: 0,
      },
    });
    expect(created.forecast).toMatchObject({ projected_usd: 0, method: 'seasonal-trailing-rate' });

    const patched = await ctx.admin('PATCH', `/budgets/${created.id}`, {
      limit_usd: 50,
      scope: { model: 'gpt-4o*', tags: { team: 'search' } },
      thresholds: [90, 25.5],
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({
      limit_usd: 50,
      scope: { model: 'gpt-4o*', tags: { team: 'search' } },
      scope_label: 'model gpt-4o*, tag team:search',
      thresholds: [25.5, 90],
    });
    const list = (await ctx.admin('GET', '/budgets')).json().budgets;
    expect(list.map((b: { name: string }) => b.name)).toEqual(['Team']);
    expect((await ctx.admin('DELETE', `/budgets/${created.id}`)).json()).toEqual({ ok: true });
    expect((await ctx.admin('GET', `/budgets/${created.id}`)).statusCode).toBe(404);
    expect((await ctx.admin('DELETE', `/budgets/${created.id}`)).statusCode).toBe(404);
  });

  test.each([
    [{ window: { kind: 'month', tz: 'Mars/Olympus' } }, 'window.tz must be an IANA time zone'],
    [{ window: { kind: 'rolling', hours: 5, days: 1 } }, 'exactly one of hours or days'],
    [{ window: { kind: 'rolling' } }, 'exactly one of hours or days'],
    [{ window: { kind: 'year' } }, 'window has the wrong type'],
    [{ scope: { model: '*' } }, 'scope.model must name a model or a prefix'],
    [{ scope: { model: 'gpt*4o' } }, 'only have a * at its end'],
    [{ scope: { tags: { 'bad key': 'x' } } }, 'scope.tags key'],
    [{ scope: { token_id: 999 } }, 'no tracking token has id 999'],
    [{ scope: { colour: 'red' } }, 'scope.colour is not a known field'],
    [{ thresholds: [80.123] }, 'at most two decimals'],
    [{ limit_usd: 0 }, 'limit_usd must be > 0'],
    [{ limit_usd: '10' }, 'limit_usd must be number'],
    [{ channel_ids: [4] }, 'no channel has id 4'],
  ])('refuses %j with a 400 that names the field', async (change, message) => {
    const response = await ctx.admin('POST', '/budgets', {
      name: 'x',
      limit_usd: 10,
      window: { kind: 'day' },
      ...change,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ status: 'error', code: 'invalid_request' });
    expect(response.json().message).toContain(message);
  });

  test('a second budget with the same name is a 409 conflict', async () => {
    await createBudget({ name: 'dup', limit_usd: 1, window: { kind: 'day' } });
    const again = await ctx.admin('POST', '/budgets', {
      name: 'dup',
      limit_usd: 2,
      window: { kind: 'week' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'conflict' });
  });
});

describe('the verdict in every ingest answer', () => {
  test('an empty list when no budget applies; otherwise each budget with the spend after this record', async () => {
    ctx.clock.set(NOW);
    expect((await ctx.ingest(record())).json().budgets).toEqual([]);
    const all = await createBudget({ name: 'all', limit_usd: 0.001, window: { kind: 'month' } });
    await createBudget({
      name: 'other model',
      limit_usd: 1,
      window: { kind: 'day' },
      scope: { model: 'gpt-4o' },
    });
    const mine = await createBudget({
      name: 'mine',
      limit_usd: 1,
      window: { kind: 'rolling', hours: 2 },
      scope: { token_id: token.id, model: 'gpt-4o-mini*' },
    });
    // The first record (before the budgets existed) is counted too: budgets count their past.
    const response = await ctx.ingest(record({ event_id: 'e1' }));
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({
      ok: true,
      id: 2,
      cost_usd: 0.00045,
      pricing_status: 'priced',
      budgets: [
        {
          id: all.id,
          name: 'all',
          spent_usd: 0.0009,
          limit_usd: 0.001,
          remaining_usd: 0.0001,
          verdict: 'warn',
          window_end: '2026-12-01T00:00:00Z',
          unpriced_requests: 0,
        },
        {
          id: mine.id,
          name: 'mine',
          spent_usd: 0.0009,
          limit_usd: 1,
          remaining_usd: 0.9991,
          verdict: 'ok',
          window_end: '2026-11-20T13:00:00Z',
          unpriced_requests: 0,
        },
      ],
    });
    // A repeated event_id is not counted again, and says where the budgets stand.
    const duplicate = await ctx.ingest(record({ event_id: 'e1' }));
    expect(duplicate.json()).toMatchObject({
      duplicate: true,
      budgets: [{ spent_usd: 0.0009 }, { spent_usd: 0.0009 }],
    });
  });

  test('exactly at the limit is exceeded with nothing remaining; the first record of a new window starts over', async () => {
    ctx.clock.set(Date.UTC(2026, 10, 30, 23, 59, 59, 999));
    await createBudget({ name: 'daily', limit_usd: 0.0009, window: { kind: 'day' } });
    await ctx.ingest(record());
    const at = (await ctx.ingest(record())).json().budgets[0];
    expect(at).toMatchObject({ spent_usd: 0.0009, remaining_usd: 0, verdict: 'exceeded' });
    const over = (await ctx.ingest(record())).json().budgets[0];
    expect(over).toMatchObject({ spent_usd: 0.00135, verdict: 'exceeded' });
    expect(over.remaining_usd).toBeCloseTo(-0.00045, 12);
    ctx.clock.set(Date.UTC(2026, 11, 1));
    const next = (await ctx.ingest(record())).json().budgets[0];
    expect(next).toMatchObject({ spent_usd: 0.00045, verdict: 'ok', window_end: '2026-12-02T00:00:00Z' });
  });

  test('each created or duplicate batch item carries its verdicts; rejected items none', async () => {
    ctx.clock.set(NOW);
    await createBudget({ name: 'all', limit_usd: 1, window: { kind: 'day' } });
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: {
        records: [record({ event_id: 'a' }), record({ event_id: 'a' }), record({ model: 7 }), record()],
      },
    });
    const items = response.json().results;
    expect(
      items.map((item: { budgets?: { spent_usd: number }[] }) => item.budgets?.map((b) => b.spent_usd)),
    ).toEqual([[0.00045], [0.00045], undefined, [0.0009]]);
  });

  test('unpriced usage is shown beside the spend', async () => {
    ctx.clock.set(NOW);
    await createBudget({ name: 'all', limit_usd: 1, window: { kind: 'day' } });
    const response = await ctx.ingest(record({ model: 'my-own-finetune' }));
    expect(response.json().budgets[0]).toMatchObject({ spent_usd: 0, unpriced_requests: 1 });
    const [budget] = (await ctx.admin('GET', '/budgets')).json().budgets;
    expect(budget.current).toMatchObject({ spent_usd: 0, unpriced_requests: 1, requests: 1 });
  });
});

describe('budget spend equals /usage/summary for the same scope and window', () => {
  function random(seed: number) {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
  }

  test('thousands of records across month ends, DST changes and half-hour zones, live and counted later', async () => {
    const second = await ctx.createToken('second');
    const tokens = [token, second];
    const windows = [
      { kind: 'day', tz: 'Europe/Paris' },
      { kind: 'month', tz: 'America/New_York' },
      { kind: 'week', tz: 'Asia/Kolkata' },
      { kind: 'month', tz: 'UTC' },
      { kind: 'rolling', hours: 30 },
      { kind: 'day', tz: 'Australia/Lord_Howe' },
    ];
    const scopes: Record<string, unknown>[] = [
      {},
      { token_id: second.id },
      { model: 'gpt-4o' },
      { provider: 'anthropic' },
      { user: 'alice' },
      { tags: { team: 'search' } },
      { token_id: token.id, model: 'gpt-4o-mini' },
    ];
    const summaryQuery = (scope: Record<string, unknown>) => {
      const q = new URLSearchParams();
      if (scope.token_id) q.set('ingest_token_id', String(scope.token_id));
      if (scope.model) q.set('model', String(scope.model));
      if (scope.provider) q.set('provider', String(scope.provider));
      if (scope.user) q.set('user', String(scope.user));
      for (const [key, value] of Object.entries((scope.tags ?? {}) as Record<string, string>))
        q.append('tag', `${key}:${value}`);
      return q;
    };
    const create = async (from: number) => {
      let n = from;
      for (const window of windows) {
        for (const scope of scopes) {
          if (n++ % 2 === from % 2) continue;
          await createBudget({ name: `b${n}`, limit_usd: 1000, window, scope });
        }
      }
    };
    ctx.clock.set(Date.UTC(2026, 9, 25, 12));
    await create(0);

    // 3,000 records from late September to November 2, across the Paris and Lord Howe DST changes
    // (October 25, October 4) and the New York month end; ingested at the last "now".
    const next = random(42);
    const models = [
      { model: 'gpt-4o-mini', provider: 'openai' },
      { model: 'gpt-4o', provider: 'openai' },
      { model: 'claude-sonnet-4', provider: 'anthropic' },
      { model: 'my-own-finetune', provider: 'openai' },
    ];
    const first = Date.UTC(2026, 8, 28);
    const last = Date.UTC(2026, 10, 2);
    const clockAt = Date.UTC(2026, 10, 1, 3, 30);
    ctx.clock.set(clockAt);
    for (let batch = 0; batch < 6; batch += 1) {
      const records = Array.from({ length: 500 }, () => {
        const m = models[Math.floor(next() * models.length)] ?? models[0];
        const user = next() < 0.4 ? 'alice' : next() < 0.5 ? 'bob' : undefined;
        const team = next() < 0.5 ? 'search' : 'ads';
        // A quarter of the records sit within a minute of an hour boundary.
        let ts = first + Math.floor(next() * (last - first));
        if (next() < 0.25) ts = ts - (ts % 3_600_000) + Math.floor((next() - 0.5) * 120_000);
        return {
          tracking_token: (tokens[Math.floor(next() * 2)] ?? token).token,
          ...m,
          prompt_tokens: 1 + Math.floor(next() * 5000),
          completion_tokens: Math.floor(next() * 2000),
          timestamp: new Date(Math.min(ts, clockAt)).toISOString(),
          ...(user ? { user } : {}),
          tags: { team },
        };
      });
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/ingest/batch',
        headers: { 'x-ingest-key': INGEST_KEY },
        payload: { records },
      });
      expect(response.json().created).toBe(500);
    }
    // The other half is created afterwards (counted from the rows) and earlier in time, so that its
    // history reaches back before every window compared below.
    ctx.clock.set(Date.UTC(2026, 9, 4, 12));
    await create(1);

    const compare = async (nowMs: number) => {
      ctx.clock.set(nowMs);
      const budgets = (await ctx.admin('GET', '/budgets')).json().budgets;
      expect(budgets).toHaveLength(windows.length * scopes.length);
      let nonZero = 0;
      for (const budget of budgets) {
        const q = summaryQuery(budget.scope);
        q.set('start', budget.current.start);
        q.set('end', new Date(Date.parse(budget.current.end) - 1).toISOString());
        const summary = (await ctx.admin('GET', `/usage/summary?${q}`)).json();
        const label = `${budget.window_label} / ${budget.scope_label} at ${new Date(nowMs).toISOString()}`;
        expect(budget.counted, label).toBe(true);
        expect(budget.current.spent_usd, label).toBe(summary.current.cost_usd);
        expect(budget.current.unpriced_requests, label).toBe(summary.current.unpriced_requests);
        expect(budget.current.requests, label).toBe(summary.current.requests);
        if (budget.current.requests > 0) nonZero += 1;
      }
      return nonZero;
    };
    // The Paris DST day (25 hours), the Lord Howe DST week, the New York and UTC month ends.
    expect(await compare(Date.UTC(2026, 9, 25, 12))).toBeGreaterThan(30);
    expect(await compare(Date.UTC(2026, 9, 4, 12))).toBeGreaterThan(30);
    expect(await compare(Date.UTC(2026, 9, 31, 23, 59, 59, 999))).toBeGreaterThan(30);
    expect(await compare(clockAt)).toBeGreaterThan(30);
  });
});

describe('a reprice that moves rows to another provider', () => {
  test('moves their spend and requests between provider-scoped budgets, and an undo moves them back', async () => {
    ctx.clock.set(NOW);
    const openai = await createBudget({
      name: 'openai',
      limit_usd: 1,
      window: { kind: 'month' },
      scope: { provider: 'openai' },
    });
    const anthropic = await createBudget({
      name: 'anthropic',
      limit_usd: 1,
      window: { kind: 'month' },
      scope: { provider: 'anthropic' },
    });
    // Stored as a build before provider inference stored it: under the default provider, unpriced.
    await ctx.ingest(record({ model: 'claude-sonnet-4', provider: 'openai', completion_tokens: 0 }));
    const current = async () => {
      const budgets = (await ctx.admin('GET', '/budgets')).json().budgets as {
        id: number;
        current: { spent_usd: number; unpriced_requests: number };
      }[];
      return Object.fromEntries(budgets.map((b) => [b.id, b.current]));
    };
    expect(await current()).toMatchObject({
      [openai.id]: { spent_usd: 0, unpriced_requests: 1 },
      [anthropic.id]: { spent_usd: 0, unpriced_requests: 0 },
    });
    const applied = (await ctx.admin('POST', '/prices/reprice', { dry_run: false })).json();
    expect(applied.provider_moves).toEqual([
      { model: 'claude-sonnet-4', from: 'openai', to: 'anthropic', rows: 1 },
    ]);
    // 1,000 input tokens of claude-sonnet-4 at $3 per million.
    expect(await current()).toMatchObject({
      [openai.id]: { spent_usd: 0, unpriced_requests: 0 },
      [anthropic.id]: { spent_usd: 0.003, unpriced_requests: 0 },
    });
    await ctx.admin('POST', `/prices/reprice/${applied.audit_id}/undo`, {});
    expect(await current()).toMatchObject({
      [openai.id]: { spent_usd: 0, unpriced_requests: 1 },
      [anthropic.id]: { spent_usd: 0, unpriced_requests: 0 },
    });
  });
});
