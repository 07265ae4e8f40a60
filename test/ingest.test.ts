import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ADMIN_KEY, createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

let ctx: TestContext;
let token: string;

beforeEach(async () => {
  ctx = await createTestApp();
  token = (await ctx.createToken('prod')).token;
});
afterEach(async () => {
  await ctx.close();
});

const record = (extra: Record<string, unknown> = {}) => ({
  tracking_token: token,
  model: 'gpt-4o-mini-2024-07-18',
  prompt_tokens: 1000,
  completion_tokens: 500,
  total_tokens: 1500,
  ...extra,
});

async function rows() {
  return (await ctx.admin('GET', '/data')).json().data as Record<string, unknown>[];
}

describe('POST /ingest', () => {
  test('a valid record answers 201 with its id and the stored cost in USD', async () => {
    const response = await ctx.ingest(record());
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({
      ok: true,
      id: 1,
      cost_usd: 0.00045,
      pricing_status: 'priced',
      budgets: [],
    });
    expect(response.headers['cache-control']).toBe('no-store');
  });

  test('the row is on disk when the response arrives (another connection sees it)', async () => {
    await ctx.ingest(record({ event_id: 'evt-durable' }));
    const other = new Database(ctx.dbPath, { readonly: true });
    const row = other
      .prepare('SELECT model, cost_nanousd FROM usage_log WHERE event_id = ?')
      .get('evt-durable');
    other.close();
    expect(row).toEqual({ model: 'gpt-4o-mini-2024-07-18', cost_nanousd: 450_000 });
  });

  test('camelCase aliases of the original are accepted', async () => {
    const response = await ctx.ingest({
      tracking_token: token,
      model: 'gpt-4o-mini',
      promptTokens: 10,
      completionTokens: 5,
      totalTokens: 15,
      costUsd: 0.5,
    });
    expect(response.statusCode).toBe(201);
    const [row] = await rows();
    expect(row).toMatchObject({ promptTokens: 10, completionTokens: 5, totalTokens: 15, clientCostUSD: 0.5 });
  });

  test("a client's cost_usd is kept for comparison but never replaces the server's price", async () => {
    await ctx.ingest(record({ cost_usd: 99 }));
    const [row] = await rows();
    expect(row).toMatchObject({ estimatedCostUSD: 0.00045, clientCostUSD: 99 });
  });

  test('total_tokens defaults to prompt + completion', async () => {
    await ctx.ingest({ tracking_token: token, model: 'gpt-4o-mini', prompt_tokens: 3, completion_tokens: 4 });
    expect((await rows())[0]).toMatchObject({ totalTokens: 7 });
  });

  test('a record with only a model is stored as zero tokens at $0 (a known model priced at zero usage)', async () => {
    const response = await ctx.ingest({ tracking_token: token, model: 'gpt-4o-mini' });
    expect(response.statusCode).toBe(201);
    expect(response.json().cost_usd).toBe(0);
  });

  test('an unknown model is stored unpriced: cost null, never $0', async () => {
    const response = await ctx.ingest(record({ model: 'my-finetune-v9' }));
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ cost_usd: null, pricing_status: 'unpriced' });
    expect((await rows())[0]).toMatchObject({ estimatedCostUSD: null, pricingStatus: 'unpriced' });
  });

  test('each model is priced at its own rate, not as gpt-4o-mini', async () => {
    const response = await ctx.ingest(record({ model: 'gpt-4o-2024-05-13' }));
    // 1000 x $5/M + 500 x $15/M
    expect(response.json().cost_usd).toBe(0.0125);
  });

  test('a timestamp with an offset is stored as the same instant in UTC', async () => {
    await ctx.ingest(record({ timestamp: '2026-11-27T19:30:00-05:00' }));
    expect((await rows())[0]).toMatchObject({ timestamp: '2026-11-28T00:30:00Z' });
  });

  test('a timestamp without an offset is read as UTC', async () => {
    await ctx.ingest(record({ timestamp: '2026-11-27T10:00:00' }));
    expect((await rows())[0]).toMatchObject({ timestamp: '2026-11-27T10:00:00Z' });
  });

  test('without a timestamp the receive time is used', async () => {
    await ctx.ingest(record());
    expect((await rows())[0]).toMatchObject({ timestamp: '2026-11-28T12:00:00Z' });
  });

  test("the token's last-seen time is the server's receive time, not the client's clock", async () => {
    await ctx.ingest(record({ timestamp: '2020-01-01T00:00:00Z' }));
    const [listed] = (await ctx.admin('GET', '/ingest/tokens')).json().tokens;
    expect(listed.last_seen_at).toBe('2026-11-28T12:00:00Z');
  });

  describe('bad input is a 400 naming the field, and nothing is stored', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['a string where a number belongs', { prompt_tokens: '7' }, /prompt_tokens must be integer/],
      ['a float token count', { completion_tokens: 1.9 }, /completion_tokens must be integer/],
      ['a boolean token count', { prompt_tokens: true }, /prompt_tokens must be integer/],
      ['a negative token count', { prompt_tokens: -1 }, /prompt_tokens must be >= 0/],
      ['a negative total', { total_tokens: -1 }, /total_tokens must be >= 0/],
      ['a negative cost', { cost_usd: -5 }, /cost_usd must be >= 0/],
      ['a non-numeric cost', { cost_usd: 'free' }, /cost_usd must be number/],
      ['an unparseable timestamp', { timestamp: 'not-a-date' }, /timestamp must be an ISO-8601/],
      ['an impossible date', { timestamp: '2026-02-30T00:00:00Z' }, /timestamp must be an ISO-8601/],
      ['a timestamp days in the future', { timestamp: '2026-12-25T00:00:00Z' }, /future/],
      ['a non-string model', { model: 42 }, /model must be string/],
      ['an empty model', { model: '   ' }, /model is required/],
      ['a missing tracking token', { tracking_token: undefined }, /tracking_token is required/],
      ['a non-string tracking token', { tracking_token: 12 }, /tracking_token must be string/],
      ['a total that is not prompt + completion', { total_tokens: 1 }, /total_tokens \(1\) must equal/],
      [
        'cached tokens above prompt tokens',
        { cached_tokens: 1001 },
        /cached_tokens \+ cache_write_tokens cannot exceed/,
      ],
      [
        'reasoning tokens above completion tokens',
        { reasoning_tokens: 501 },
        /reasoning_tokens cannot exceed/,
      ],
      [
        'an alias that disagrees with its field',
        { promptTokens: 999 },
        /prompt_tokens and promptTokens disagree/,
      ],
      ['a non-boolean batch flag', { batch: 'yes' }, /batch must be boolean/],
      ['an event_id that is an object', { event_id: { a: 1 } }, /event_id has the wrong type/],
    ];
    for (const [name, change, message] of cases) {
      test(name, async () => {
        const response = await ctx.ingest(record(change));
        expect(response.statusCode).toBe(400);
        expect(response.json()).toMatchObject({ status: 'error', code: 'invalid_request' });
        expect(response.json().message).toMatch(message);
        expect(await rows()).toEqual([]);
      });
    }
  });

  test('validation errors are counted in /metrics', async () => {
    await ctx.ingest(record({ prompt_tokens: 'x' }));
    await ctx.ingest(record({ timestamp: 'nope' }));
    const counters = (await ctx.admin('GET', '/metrics')).json().counters;
    expect(counters.ingest_validation_error).toBe(1);
  });

  test('malformed JSON is a 400 in the error shape, not a 500', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/ingest',
      headers: { 'x-ingest-key': INGEST_KEY, 'content-type': 'application/json' },
      payload: '{"tracking_token": ',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ status: 'error', code: 'invalid_request' });
  });

  test('a JSON array body is a 400, not a 500', async () => {
    const response = await ctx.ingest([record()]);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('invalid_request');
  });

  test('a body that is not JSON is a 415', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/ingest',
      headers: { 'x-ingest-key': INGEST_KEY, 'content-type': 'text/plain' },
      payload: 'model=gpt-4o',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({
      code: 'unsupported_media_type',
      message: 'Content-Type must be application/json',
    });
  });

  test('a body over the size limit is a 413 in the error shape', async () => {
    const response = await ctx.ingest(record({ meta: { blob: 'x'.repeat(1_100_000) } }));
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ status: 'error', code: 'payload_too_large' });
  });

  test('a missing or wrong X-Ingest-Key is a 401 and is counted', async () => {
    const missing = await ctx.app.inject({ method: 'POST', url: '/ingest', payload: record() });
    const wrong = await ctx.ingest(record(), { 'x-ingest-key': 'nope' });
    for (const response of [missing, wrong]) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({
        code: 'unauthorized',
        message: 'Invalid or missing X-Ingest-Key',
      });
    }
    expect((await ctx.admin('GET', '/metrics')).json().counters.ingest_bad_auth).toBe(2);
  });

  test('the admin key is not an ingest key', async () => {
    const response = await ctx.ingest(record(), { 'x-ingest-key': 'test-admin-key-0123456789' });
    expect(response.statusCode).toBe(401);
  });

  test('an unknown tracking token is a 404; an inactive one is a 403', async () => {
    const unknown = await ctx.ingest(record({ tracking_token: 'no-such-token-000000' }));
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'not_found', message: 'Unknown tracking token' });

    const { id } = (await ctx.admin('GET', '/ingest/tokens')).json().tokens[0];
    await ctx.admin('PATCH', `/ingest/tokens/${id}/active`, { active: false });
    const inactive = await ctx.ingest(record());
    expect(inactive.statusCode).toBe(403);
    expect(inactive.json()).toMatchObject({ code: 'forbidden', message: 'Tracking token is inactive' });
  });

  test('tracking tokens match exactly: case and surrounding spaces', async () => {
    expect((await ctx.ingest(record({ tracking_token: token.toUpperCase() }))).statusCode).toBe(
      token === token.toUpperCase() ? 201 : 404,
    );
    expect((await ctx.ingest(record({ tracking_token: `  ${token} ` }))).statusCode).toBe(201);
  });
});

describe('idempotency', () => {
  test('a repeated event_id answers 200 duplicate with the first row id, and stores nothing', async () => {
    const first = await ctx.ingest(record({ event_id: 'chatcmpl-abc' }));
    const second = await ctx.ingest(
      record({ event_id: 'chatcmpl-abc', prompt_tokens: 1, total_tokens: 501 }),
    );
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual({ duplicate: true, id: first.json().id, budgets: [] });
    expect(await rows()).toHaveLength(1);
    expect((await ctx.admin('GET', '/metrics')).json().counters).toMatchObject({
      ingest_success: 1,
      ingest_duplicate: 1,
    });
  });

  test('20 concurrent posts of one event_id give exactly one 201 and 19 duplicates, never a 5xx', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => ctx.ingest(record({ event_id: 'race-1' }))),
    );
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    const ids = new Set(responses.map((r) => r.json().id));
    expect(ids.size).toBe(1);
    expect(await rows()).toHaveLength(1);
  });

  test('concurrent duplicates over real sockets (separate event-loop turns) still store one row', async () => {
    const address = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const post = () =>
      fetch(`${address}/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ingest-key': INGEST_KEY },
        body: JSON.stringify(record({ event_id: 'race-2' })),
      });
    const responses = await Promise.all(Array.from({ length: 30 }, post));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(29);
    expect(await rows()).toHaveLength(1);
  });

  test('the same event_id under two tokens is two events', async () => {
    const other = (await ctx.createToken('staging')).token;
    expect((await ctx.ingest(record({ event_id: 'shared' }))).statusCode).toBe(201);
    expect((await ctx.ingest(record({ event_id: 'shared', tracking_token: other }))).statusCode).toBe(201);
  });

  test('a numeric event_id is the same key as its string form', async () => {
    expect((await ctx.ingest(record({ event_id: 42 }))).statusCode).toBe(201);
    expect((await ctx.ingest(record({ event_id: '42' }))).statusCode).toBe(200);
  });

  test('a duplicate after the token was deactivated and re-activated is still a duplicate', async () => {
    await ctx.ingest(record({ event_id: 'keep' }));
    const { id } = (await ctx.admin('GET', '/ingest/tokens')).json().tokens[0];
    await ctx.admin('PATCH', `/ingest/tokens/${id}/active`, { active: false });
    await ctx.admin('PATCH', `/ingest/tokens/${id}/active`, { active: true });
    expect((await ctx.ingest(record({ event_id: 'keep' }))).statusCode).toBe(200);
  });
});

describe('rate limiting per tracking token', () => {
  test('past INGEST_BURST a token gets 429 with Retry-After, in the error shape; other tokens are unaffected', async () => {
    const limited = await createTestApp({ INGEST_RPM: '60', INGEST_BURST: '3' });
    try {
      const a = (await limited.createToken('a')).token;
      const b = (await limited.createToken('b')).token;
      const post = (t: string) =>
        limited.ingest({ tracking_token: t, model: 'gpt-4o-mini', prompt_tokens: 1 });
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await post(a)).statusCode);
      expect(statuses).toEqual([201, 201, 201, 429]);
      const refused = await post(a);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json()).toMatchObject({ status: 'error', code: 'rate_limited' });
      expect((await post(b)).statusCode).toBe(201);
      limited.clock.advance(1000);
      expect((await post(a)).statusCode).toBe(201);
      expect((await limited.admin('GET', '/metrics')).json().counters.rate_limit_hits).toBe(2);
    } finally {
      await limited.close();
    }
  });
});

describe('ingest limits that lose nothing (issue 17.3)', () => {
  const batchOf = (app: TestContext, records: unknown[]) =>
    app.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: { records },
    });
  const many = (t: string, n: number, prefix: string) =>
    Array.from({ length: n }, (_, i) => ({
      tracking_token: t,
      model: 'gpt-4o-mini',
      prompt_tokens: 1,
      event_id: `${prefix}-${i}`,
    }));

  test('with no configuration a token may send thousands of records a minute, whatever RATE_LIMIT_RPM says', async () => {
    const fresh = await createTestApp({ RATE_LIMIT_RPM: '60' });
    try {
      const t = (await fresh.createToken('busy')).token;
      // Regression: a batch of 200 answered 200 with 140 records rate_limited (INGEST_RPM followed RATE_LIMIT_RPM=60).
      for (const prefix of ['a', 'b']) {
        const response = await batchOf(fresh, many(t, 1000, prefix));
        expect(response.statusCode).toBe(200);
        expect(response.json()).toMatchObject({ created: 1000, rejected: 0 });
        expect(response.headers['retry-after']).toBeUndefined();
      }
      const metrics = (await fresh.admin('GET', '/metrics')).json();
      expect(metrics.rate_limit.ingest).toMatchObject({ rpm: 6000, burst: 6000 });
      expect(metrics.ingest_refusals).toEqual({
        rate_limited_last_hour: 0,
        last_rate_limited_at: null,
        last_token_label: null,
        refused_last_hour: { rate_limited: 0, validation_error: 0, unknown_token: 0, inactive_token: 0 },
      });
    } finally {
      await fresh.close();
    }
  });

  test('a batch the rate limit partly refused answers 200 with Retry-After long enough for all refused records', async () => {
    const limited = await createTestApp({ INGEST_RPM: '60', INGEST_BURST: '3' });
    try {
      const t = (await limited.createToken('partial')).token;
      const records = many(t, 5, 'p');
      const response = await batchOf(limited, records);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toMatchObject({ created: 3, rejected: 2 });
      expect(body.results.slice(3)).toMatchObject([
        { index: 3, status: 'rejected', code: 'rate_limited' },
        { index: 4, status: 'rejected', code: 'rate_limited' },
      ]);
      // One record a second refills: the two refused records fit again after 2 s.
      expect(response.headers['retry-after']).toBe('2');
      limited.clock.advance(2000);
      const retried = await batchOf(limited, records.slice(3));
      expect(retried.json()).toMatchObject({ created: 2, rejected: 0 });
      expect(retried.headers['retry-after']).toBeUndefined();
    } finally {
      await limited.close();
    }
  });

  test('a batch the rate limit refused entirely is a 429 with Retry-After, counted in both metrics pages', async () => {
    const limited = await createTestApp({ INGEST_RPM: '60', INGEST_BURST: '2' });
    try {
      const t = (await limited.createToken('Checkout service')).token;
      expect((await batchOf(limited, many(t, 2, 'first'))).json()).toMatchObject({ created: 2 });
      limited.clock.advance(90_000);
      // 1.5 minutes refilled the bucket (2 records); spend it, then the next batch gets nothing.
      expect((await batchOf(limited, many(t, 2, 'second'))).json()).toMatchObject({ created: 2 });
      const refused = await batchOf(limited, [...many(t, 4, 'third'), { tracking_token: t, model: '' }]);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('2');
      expect(refused.json()).toEqual({
        status: 'error',
        code: 'rate_limited',
        message:
          'Ingest rate limit exceeded: 4 of 5 records refused and nothing stored (1 more rejected for other reasons); resend after Retry-After seconds',
        requestId: expect.any(String),
      });
      expect((await limited.admin('GET', '/data')).json().data).toHaveLength(4);

      const metrics = (await limited.admin('GET', '/metrics')).json();
      expect(metrics.counters.ingest_rate_limited).toBe(4);
      expect(metrics.ingest_refusals).toEqual({
        rate_limited_last_hour: 4,
        last_rate_limited_at: '2026-11-28T12:01:30Z',
        last_token_label: 'Checkout service',
        refused_last_hour: { rate_limited: 4, validation_error: 1, unknown_token: 0, inactive_token: 0 },
      });
      const prometheus = (await limited.admin('GET', '/metrics/prometheus')).body;
      expect(prometheus).toContain('cg_ingest_records_total{outcome="rate_limited"} 4');

      // The count is of the last hour by the service's clock; the last refusal is remembered.
      limited.clock.advance(61 * 60_000);
      expect((await limited.admin('GET', '/metrics')).json().ingest_refusals).toEqual({
        rate_limited_last_hour: 0,
        last_rate_limited_at: '2026-11-28T12:01:30Z',
        last_token_label: 'Checkout service',
        refused_last_hour: { rate_limited: 0, validation_error: 0, unknown_token: 0, inactive_token: 0 },
      });
    } finally {
      await limited.close();
    }
  });

  test('records refused for any reason are counted by reason for the last hour in /metrics', async () => {
    const old = await ctx.createToken('Old service');
    await ctx.admin('PATCH', `/ingest/tokens/${old.id}/active`, { active: false });
    const response = await batchOf(ctx, [
      record(),
      { ...record(), tracking_token: old.token },
      { ...record(), tracking_token: old.token },
      { ...record(), tracking_token: 'no-such-token-0123456789' },
      { ...record(), prompt_tokens: -1 },
    ]);
    expect(response.json()).toMatchObject({ created: 1, rejected: 4 });
    expect((await ctx.ingest({ ...record(), model: '' })).statusCode).toBe(400);
    const refusals = () => ctx.admin('GET', '/metrics').then((r) => r.json().ingest_refusals);
    expect((await refusals()).refused_last_hour).toEqual({
      rate_limited: 0,
      validation_error: 2,
      unknown_token: 1,
      inactive_token: 2,
    });
    ctx.clock.advance(60 * 60_000);
    expect((await refusals()).refused_last_hour).toMatchObject({ validation_error: 0, inactive_token: 0 });
  });

  test('a batch of duplicates and rate-limited records stored nothing new but is a 200 with Retry-After', async () => {
    const limited = await createTestApp({ INGEST_RPM: '60', INGEST_BURST: '2' });
    try {
      const t = (await limited.createToken('dups')).token;
      const sent = many(t, 2, 'd');
      await batchOf(limited, sent);
      limited.clock.advance(2000);
      const response = await batchOf(limited, [...sent, ...many(t, 3, 'e')]);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ created: 0, duplicates: 2, rejected: 3 });
      // A resent record spends its token too (the limit comes before the dedupe, as in the original).
      // Three were refused but the bucket holds two: Retry-After is when it is full again.
      expect(response.headers['retry-after']).toBe('2');
    } finally {
      await limited.close();
    }
  });
});

describe('deeply nested JSON (issue 16.2)', () => {
  /** `{"a":{"a":...1...}}`, `levels` objects deep. */
  const nestedObject = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = { a: 1 };
    for (let i = 1; i < levels; i += 1) value = { a: value };
    return value;
  };
  /** The same as JSON text: this test process must not stringify it either. */
  const nestedText = (levels: number) => `${'{"a":'.repeat(levels - 1)}{"a":1}${'}'.repeat(levels - 1)}`;
  /** A record's JSON text with `field` set to JSON text. */
  const recordText = (extra: Record<string, unknown>, field: string, json: string) =>
    `${JSON.stringify(record(extra)).slice(0, -1)},"${field}":${json}}`;

  test('a record with meta or usage nested 5,000 levels (a 10 KB body) is a 400, not a 500', async () => {
    for (const field of ['meta', 'usage']) {
      const body = recordText({}, field, nestedText(5000));
      expect(body.length).toBeLessThan(40_000);
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/ingest',
        headers: { 'x-ingest-key': INGEST_KEY, 'content-type': 'application/json' },
        payload: body,
      });
      expect(response.statusCode, field).toBe(400);
      expect(response.json()).toMatchObject({
        code: 'invalid_request',
        message: 'JSON body is nested deeper than 64 levels',
      });
    }
    expect(await rows()).toEqual([]);
    expect((await ctx.app.inject({ method: 'GET', url: '/ping' })).statusCode).toBe(200);
  });

  test('meta and usage may nest 32 levels; one more is refused naming the field', async () => {
    expect((await ctx.ingest(record({ meta: nestedObject(32) }))).statusCode).toBe(201);
    const meta = await ctx.ingest(record({ meta: nestedObject(33) }));
    expect(meta.statusCode).toBe(400);
    expect(meta.json().message).toBe('meta is nested deeper than 32 levels');
    const usage = await ctx.ingest(
      record({ usage: { prompt_tokens: 1000, completion_tokens: 500, x: nestedObject(32) } }),
    );
    expect(usage.json().message).toBe('usage is nested deeper than 32 levels');
    expect(await rows()).toHaveLength(1);
  });

  test('in a batch, a deeply nested record is refused alone and the 999 others are stored', async () => {
    const records = Array.from({ length: 1000 }, (_, i) => JSON.stringify(record({ event_id: `deep-${i}` })));
    records[500] = recordText({ event_id: 'deep-500' }, 'meta', nestedText(5000));
    records[501] = recordText(
      { event_id: 'deep-501' },
      'usage',
      `{"prompt_tokens":1,"deep":${nestedText(100_000)}}`,
    );
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY, 'content-type': 'application/json' },
      payload: `{"records":[${records.join(',')}]}`,
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ created: 998, rejected: 2 });
    expect(body.results[500]).toEqual({
      index: 500,
      status: 'rejected',
      code: 'validation_error',
      reason: 'meta is nested deeper than 32 levels',
    });
    expect(body.results[501]).toMatchObject({
      code: 'validation_error',
      reason: 'usage is nested deeper than 32 levels',
    });
    expect((await ctx.admin('GET', '/metrics')).json().db.usage_rows).toBe(998);
  });

  test('any other JSON body nested too deeply is refused before it is parsed', async () => {
    const response = await ctx.app.inject({
      method: 'PUT',
      url: '/prices/overrides',
      headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
      payload: `{"overrides":${'['.repeat(200_000)}${']'.repeat(200_000)}}`,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      code: 'invalid_request',
      message: 'JSON body is nested deeper than 64 levels',
    });
  });
});

describe('the raw usage object is capped like meta (issue 16.6)', () => {
  test('a usage object over 8 KiB of JSON is refused, alone in a batch; a real one is stored verbatim', async () => {
    const junk = { prompt_tokens: 1000, completion_tokens: 500, junk: 'x'.repeat(900_000) };
    const single = await ctx.ingest(record({ usage: junk }));
    expect(single.statusCode).toBe(400);
    expect(single.json().message).toBe('usage must be at most 8192 bytes of JSON');

    const real = {
      prompt_tokens: 1000,
      completion_tokens: 500,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0 },
    };
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: { records: [record({ usage: junk, event_id: 'j' }), record({ usage: real, event_id: 'r' })] },
    });
    expect(response.json()).toMatchObject({ created: 1, rejected: 1 });
    expect(response.json().results[0]).toMatchObject({
      status: 'rejected',
      code: 'validation_error',
      reason: 'usage must be at most 8192 bytes of JSON',
    });
    const stored = new Database(ctx.dbPath, { readonly: true });
    try {
      const rawUsage = stored.prepare('SELECT raw_usage FROM usage_log').pluck().all();
      expect(rawUsage).toEqual([JSON.stringify(real)]);
    } finally {
      stored.close();
    }
  });
});

describe('development without INGEST_KEY', () => {
  test('ingest accepts callers without a key', async () => {
    const open = await createTestApp({ INGEST_KEY: '' });
    try {
      const t = (await open.createToken('dev')).token;
      const response = await open.app.inject({
        method: 'POST',
        url: '/ingest',
        payload: { tracking_token: t, model: 'gpt-4o-mini', prompt_tokens: 1 },
      });
      expect(response.statusCode).toBe(201);
      expect((await open.admin('GET', '/metrics')).json().ingest.auth_enabled).toBe(false);
    } finally {
      await open.close();
    }
  });
});

describe('POST /ingest/batch', () => {
  const batch = (records: unknown[]) =>
    ctx.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: { records },
    });

  test('answers each record: created, duplicate, or rejected with a reason', async () => {
    await ctx.ingest(record({ event_id: 'seen' }));
    const response = await batch([
      record({ event_id: 'new-1' }),
      record({ event_id: 'seen' }),
      record({ prompt_tokens: 'many' }),
      record({ tracking_token: 'unknown-token-xxxxxx' }),
      record({ event_id: 'new-1' }),
      'not an object',
    ]);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ created: 1, duplicates: 2, rejected: 3 });
    expect(body.results.map((r: { status: string }) => r.status)).toEqual([
      'created',
      'duplicate',
      'rejected',
      'rejected',
      'duplicate',
      'rejected',
    ]);
    expect(body.results[0]).toMatchObject({ index: 0, cost_usd: 0.00045, pricing_status: 'priced' });
    expect(body.results[2]).toMatchObject({
      code: 'validation_error',
      reason: 'prompt_tokens must be integer',
    });
    expect(body.results[3]).toMatchObject({ code: 'unknown_token', reason: 'Unknown tracking token' });
    expect(body.results[4].id).toBe(body.results[0].id);
    expect(await rows()).toHaveLength(2);
  });

  test('1,000 records are written in one transaction', async () => {
    const commitsBefore = ctx.app.deps.metrics.commits.count;
    const response = await batch(Array.from({ length: 1000 }, (_, i) => record({ event_id: `b-${i}` })));
    expect(response.json()).toMatchObject({ created: 1000, rejected: 0 });
    expect(ctx.app.deps.metrics.commits.count - commitsBefore).toBe(1);
    expect(ctx.app.deps.metrics.commits.maxRecords).toBe(1000);
  });

  test('more than 1,000 records, none, or no records array is a 400', async () => {
    for (const payload of [
      { records: Array.from({ length: 1001 }, () => record()) },
      { records: [] },
      { rows: [record()] },
    ]) {
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/ingest/batch',
        headers: { 'x-ingest-key': INGEST_KEY },
        payload,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('invalid_request');
    }
    expect(await rows()).toEqual([]);
  });

  test('needs the ingest key', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      payload: { records: [record()] },
    });
    expect(response.statusCode).toBe(401);
  });
});
