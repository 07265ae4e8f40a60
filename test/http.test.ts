import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADMIN_KEY, createTestApp, type TestContext } from './helpers.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => {
  await ctx.close();
});

describe('public endpoints', () => {
  test('GET /ping answers pong', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/ping' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ message: 'pong' });
  });

  test('GET /health checks the database and gives the version and an ISO timestamp', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      status: 'healthy',
      timestamp: '2026-11-28T12:00:00Z',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      checks: { database: 'ok', writes: 'ok' },
    });
  });

  test('GET /health answers 503 when the database is unusable', async () => {
    const broken = await createTestApp();
    broken.store.db.close();
    const response = await broken.app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ status: 'unhealthy', checks: { database: 'failed' } });
    await broken.app.close();
  });

  test('GET /dashboard serves an HTML page without a key', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/dashboard' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
  });
});

describe('one error shape everywhere', () => {
  test('an unknown path is a JSON 404 with a request id that matches the header', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/nope' });
    expect(response.statusCode).toBe(404);
    const body = response.json();
    expect(body).toEqual({
      status: 'error',
      code: 'not_found',
      message: 'No route for GET /nope',
      requestId: expect.any(String),
    });
    expect(response.headers['x-request-id']).toBe(body.requestId);
  });

  test('the removed v0.2 /keys/* endpoints are JSON 404s', async () => {
    for (const [method, url] of [
      ['GET', '/keys'],
      ['POST', '/keys'],
      ['DELETE', '/keys/1'],
      ['POST', '/keys/1/probe'],
    ] as const) {
      const response = await ctx.app.inject({ method, url, headers: { 'x-api-key': ADMIN_KEY } });
      expect(response.statusCode, url).toBe(404);
      expect(response.json().code).toBe('not_found');
    }
  });

  test('a known path with the wrong method is a 405 with an Allow header', async () => {
    const response = await ctx.app.inject({
      method: 'PUT',
      url: '/ingest/tokens/3/active',
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('PATCH');
    expect(response.json()).toMatchObject({ status: 'error', code: 'method_not_allowed' });
    const data = await ctx.app.inject({ method: 'POST', url: '/data', headers: { 'x-api-key': ADMIN_KEY } });
    expect(data.statusCode).toBe(405);
  });

  test('a 500 says only "internal error" and the details go to the log', async () => {
    const failing = await createTestApp();
    failing.store.listModels = async () => {
      throw new Error('SQLITE_CORRUPT: secret internals at /var/lib/x');
    };
    const response = await failing.admin('GET', '/models');
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      status: 'error',
      code: 'internal',
      message: 'internal error',
      requestId: expect.any(String),
    });
    expect(response.body).not.toContain('SQLITE');
    await failing.close();
  });
});

describe('admin auth', () => {
  test('a wrong or missing X-API-Key is a 401', async () => {
    for (const headers of [{}, { 'x-api-key': 'wrong' }, { 'x-api-key': '' }]) {
      const response = await ctx.app.inject({ method: 'GET', url: '/models', headers });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({
        code: 'unauthorized',
        message: 'Invalid or missing X-API-Key',
      });
    }
  });

  test('only the exact key opens admin routes: near misses of every length are 401', async () => {
    const last = ADMIN_KEY.at(-1) === 'x' ? 'y' : 'x';
    const nearMisses = [
      `${ADMIN_KEY.slice(0, -1)}${last}`, // same length, last character differs
      ADMIN_KEY.slice(0, -1), // a prefix
      `${ADMIN_KEY}x`, // the key and one more character
      `${ADMIN_KEY.slice(0, -1)}é`, // same characters count, one more byte
      ADMIN_KEY.toUpperCase(),
    ];
    for (const key of nearMisses) {
      const response = await ctx.app.inject({ method: 'GET', url: '/models', headers: { 'x-api-key': key } });
      expect(response.statusCode, key).toBe(401);
    }
    const right = await ctx.app.inject({
      method: 'GET',
      url: '/models',
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(right.statusCode).toBe(200);
  });

  test('the ingest key does not open admin routes', async () => {
    const response = await ctx.app.inject({
      method: 'GET',
      url: '/models',
      headers: { 'x-api-key': 'test-ingest-key-0123456789' },
    });
    expect(response.statusCode).toBe(401);
  });

  test('repeated failed keys from one IP get 429 before the key is even compared, then recover', async () => {
    const guarded = await createTestApp({ AUTH_FAILURES_PER_MINUTE: '3' });
    try {
      const attempt = (key: string) =>
        guarded.app.inject({ method: 'GET', url: '/models', headers: { 'x-api-key': key } });
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await attempt(`guess-${i}`)).statusCode);
      expect(statuses).toEqual([401, 401, 401, 429]);
      const blocked = await attempt(ADMIN_KEY);
      expect(blocked.statusCode).toBe(429);
      expect(blocked.headers['retry-after']).toBe('20');
      guarded.clock.advance(20_000);
      expect((await attempt(ADMIN_KEY)).statusCode).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  test("behind one address, an app with a stale ingest key does not stop the other apps' usage (issue 16.7)", async () => {
    const guarded = await createTestApp({ AUTH_FAILURES_PER_MINUTE: '3' });
    try {
      const { token } = await guarded.createToken('other app');
      const stale = () =>
        guarded.ingest({ tracking_token: token, model: 'gpt-4o-mini' }, { 'x-ingest-key': 'old-ingest-key' });
      const statuses = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await stale()).statusCode);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const refused = await stale();
      expect(refused.headers['retry-after']).toBe('20');
      expect(refused.json()).toMatchObject({ code: 'rate_limited' });
      // The correct key still gets through, every time, from the same address.
      for (let i = 0; i < 3; i += 1) {
        expect((await guarded.ingest({ tracking_token: token, model: 'gpt-4o-mini' })).statusCode).toBe(201);
      }
      // Failed ingest keys have their own budget: the admin key is not locked out by them.
      expect((await guarded.admin('GET', '/models')).statusCode).toBe(200);
      const metrics = (await guarded.admin('GET', '/metrics')).json();
      expect(metrics.counters.ingest_bad_auth).toBe(6);
      expect(metrics.counters.ingest_success).toBe(3);
    } finally {
      await guarded.close();
    }
  });

  test('a locked-out address keeps ingesting with the right key while its admin key and sign-in wait', async () => {
    const guarded = await createTestApp({ AUTH_FAILURES_PER_MINUTE: '2' });
    try {
      const { token } = await guarded.createToken('app');
      const signIn = (key: string) =>
        guarded.app.inject({ method: 'POST', url: '/auth/session', payload: { key, remember: false } });
      const session = await signIn(ADMIN_KEY);
      const cookie = String(session.headers['set-cookie']).split(';')[0] ?? '';
      for (let i = 0; i < 2; i += 1) {
        const wrong = await guarded.app.inject({
          method: 'GET',
          url: '/models',
          headers: { 'x-api-key': 'stale' },
        });
        expect(wrong.statusCode).toBe(401);
      }
      // The admin side stays strict: brute-force protection of the admin key and sign-in.
      expect((await guarded.admin('GET', '/models')).statusCode).toBe(429);
      expect((await signIn(ADMIN_KEY)).statusCode).toBe(429);
      // A signed-in dashboard session is no guess: it keeps working.
      const withCookie = await guarded.app.inject({ method: 'GET', url: '/models', headers: { cookie } });
      expect(withCookie.statusCode).toBe(200);
      // A made-up session is a failed attempt like a wrong key.
      const madeUp = await guarded.app.inject({
        method: 'GET',
        url: '/models',
        headers: { cookie: 'cg_session=made-up-session-id' },
      });
      expect(madeUp.statusCode).toBe(429);
      expect((await guarded.ingest({ tracking_token: token, model: 'gpt-4o-mini' })).statusCode).toBe(201);
    } finally {
      await guarded.close();
    }
  });

  test('development without API_KEY opens the admin API', async () => {
    const open = await createTestApp({ API_KEY: '' });
    try {
      expect((await open.app.inject({ method: 'GET', url: '/models' })).statusCode).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe('admin rate limit', () => {
  test('past RATE_LIMIT_BURST an IP gets 429 with Retry-After and X-RateLimit headers, not a 500', async () => {
    const limited = await createTestApp({ RATE_LIMIT_RPM: '60', RATE_LIMIT_BURST: '2', INGEST_BURST: '10' });
    try {
      const call = () => limited.admin('GET', '/models');
      const first = await call();
      expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1' });
      await call();
      const refused = await call();
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.headers['x-ratelimit-remaining']).toBe('0');
      expect(refused.json()).toMatchObject({
        status: 'error',
        code: 'rate_limited',
        message: 'Rate limit exceeded',
      });
      // Exempt paths are not limited; ingest has its own per-token limit.
      expect((await limited.app.inject({ method: 'GET', url: '/ping' })).statusCode).toBe(200);
      expect((await limited.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      // The API docs page, its assets and the document it loads are public: never limited
      // (regression, issue 16.10: /openapi.json was limited, so the page broke once the bucket was empty).
      for (const url of [
        '/docs',
        '/docs/static/index.html',
        '/docs/static/swagger-ui.css',
        '/openapi.json',
      ]) {
        expect((await limited.app.inject({ method: 'GET', url })).statusCode).not.toBe(429);
      }
      const { token } = await (async () => {
        limited.clock.advance(60_000);
        return limited.createToken('t');
      })();
      for (let i = 0; i < 3; i += 1) {
        expect((await limited.ingest({ tracking_token: token, model: 'gpt-4o-mini' })).statusCode).toBe(201);
      }
      expect((await limited.admin('GET', '/metrics')).json().counters.rate_limit_hits).toBe(1);
    } finally {
      await limited.close();
    }
  });
});

describe('CORS', () => {
  test('with no ALLOWED_ORIGINS there is no cross-origin access (no * header)', async () => {
    const response = await ctx.app.inject({
      method: 'GET',
      url: '/ping',
      headers: { origin: 'https://evil.example' },
    });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('allowed origins get CORS for every admin method including PATCH and DELETE, on /ingest/tokens too', async () => {
    const cors = await createTestApp({ ALLOWED_ORIGINS: 'https://app.example.com' });
    try {
      const preflight = await cors.app.inject({
        method: 'OPTIONS',
        url: '/ingest/tokens/1/active',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'PATCH',
          'access-control-request-headers': 'content-type,x-api-key',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(preflight.headers['access-control-allow-methods']).toContain('PATCH');
      expect(preflight.headers['access-control-allow-methods']).toContain('DELETE');
      expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toContain('x-api-key');

      const other = await cors.app.inject({
        method: 'GET',
        url: '/ping',
        headers: { origin: 'https://evil.example' },
      });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await cors.close();
    }
  });

  test('with ALLOWED_ORIGINS set, an unknown path is still the JSON 404 and a wrong method still a 405', async () => {
    const cors = await createTestApp({ ALLOWED_ORIGINS: 'https://app.example.com' });
    try {
      const headers = { 'x-api-key': ADMIN_KEY, origin: 'https://app.example.com' };
      // Regression (issue 16.8): the preflight route `OPTIONS *` made every unknown path a 405 "Allow: OPTIONS".
      for (const method of ['GET', 'POST', 'DELETE'] as const) {
        const response = await cors.app.inject({ method, url: '/nowhere', headers });
        expect(response.statusCode, method).toBe(404);
        expect(response.headers.allow).toBeUndefined();
        expect(response.json()).toMatchObject({
          code: 'not_found',
          message: `No route for ${method} /nowhere`,
        });
      }
      const wrong = await cors.app.inject({ method: 'GET', url: '/reset', headers });
      expect(wrong.statusCode).toBe(405);
      expect(wrong.headers.allow).toBe('DELETE');
    } finally {
      await cors.close();
    }
  });
});

describe('trailing slashes', () => {
  test('a path with a trailing slash is another path: a 404 for every method, as the router sees it', async () => {
    // Regression (issue 16.8): GET /reset/ answered 405 while DELETE /reset/ answered 404.
    for (const [method, url] of [
      ['GET', '/reset/'],
      ['DELETE', '/reset/'],
      ['GET', '/ping/'],
      ['POST', '/ping/'],
      ['PATCH', '/ingest/tokens/1/active/'],
    ] as const) {
      const response = await ctx.app.inject({ method, url, headers: { 'x-api-key': ADMIN_KEY } });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.json().code).toBe('not_found');
    }
    expect((await ctx.app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
  });
});

describe('admin endpoints', () => {
  test('GET /models lists distinct models, sorted', async () => {
    const models = await createTestApp();
    try {
      const { token } = await models.createToken('m');
      for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4o', 'a-custom-model']) {
        await models.ingest({ tracking_token: token, model });
      }
      expect((await models.admin('GET', '/models')).json()).toEqual({
        models: ['a-custom-model', 'gpt-4o', 'gpt-4o-mini'],
      });
    } finally {
      await models.close();
    }
  });

  test('DELETE /reset deletes usage and keeps tokens', async () => {
    const reset = await createTestApp();
    try {
      const { token } = await reset.createToken('keep-me');
      await reset.ingest({ tracking_token: token, model: 'gpt-4o', event_id: 'e1' });
      await reset.ingest({ tracking_token: token, model: 'gpt-4o', event_id: 'e2' });
      const response = await reset.admin('DELETE', '/reset');
      expect(response.json()).toEqual({ message: 'Database reset successfully', deleted: 2 });
      expect((await reset.admin('GET', '/data')).json().data).toEqual([]);
      expect((await reset.admin('GET', '/ingest/tokens')).json().tokens).toHaveLength(1);
      // After a reset the same event ids are new events again.
      expect(
        (await reset.ingest({ tracking_token: token, model: 'gpt-4o', event_id: 'e1' })).statusCode,
      ).toBe(201);
    } finally {
      await reset.close();
    }
  });

  test("GET /metrics has the original's shape with correct counters and db figures", async () => {
    const m = await createTestApp();
    try {
      const { token } = await m.createToken('m');
      await m.ingest({
        tracking_token: token,
        model: 'gpt-4o',
        event_id: 'x',
        timestamp: '2026-11-01T00:00:00Z',
      });
      await m.ingest({ tracking_token: token, model: 'gpt-4o', event_id: 'x' });
      await m.ingest({ tracking_token: token, model: 5 });
      await m.ingest({ tracking_token: token, model: 'gpt-4o' }, { 'x-ingest-key': 'bad' });
      await m.admin('GET', '/data');
      const body = (await m.admin('GET', '/metrics')).json();
      expect(body).toMatchObject({
        version: '1',
        env: 'development',
        debug: false,
        rate_limit: {
          rpm: 100000,
          burst: 100000,
          exempt_paths: ['/ping', '/health', '/dashboard'],
          ingest: { rpm: 6000, burst: 6000 },
        },
        ingest: { auth_enabled: true, tracking_token_length: 22 },
        counters: {
          ingest_success: 1,
          ingest_duplicate: 1,
          ingest_bad_auth: 1,
          rate_limit_hits: 0,
          http_status: { '/ingest': { '201': 1, '200': 1, '400': 1, '401': 1 }, '/data': { '200': 1 } },
        },
        db: {
          usage_rows: 1,
          active_tokens: 1,
          last_usage_at: '2026-11-01T00:00:00Z',
          last_token_seen_at: '2026-11-28T12:00:00Z',
        },
        ingestion_health: { tokens_seen_1m: 1, tokens_seen_5m: 1, tokens_seen_1h: 1 },
      });
      expect(body.counters.latency['/ingest'].count).toBe(4);
    } finally {
      await m.close();
    }
  });

  test('POST /log still works for the admin, validated, with Deprecation headers', async () => {
    const response = await ctx.admin('POST', '/log', {
      model: 'gpt-4o-mini',
      promptTokens: 1000,
      completionTokens: 500,
      totalTokens: 1500,
      estimatedCostUSD: 0.1,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers.deprecation).toBe('true');
    expect(response.headers.link).toBe('</ingest>; rel="successor-version"');
    expect(response.json()).toMatchObject({
      message: 'Data logged successfully',
      warning: expect.stringMatching(/^DEPRECATED/),
    });
    const row = (await ctx.admin('GET', '/data?model=gpt-4o-mini'))
      .json()
      .data.find((r: { source: string }) => r.source === 'legacy');
    // A timestamp is always stored (the original stored NULL), and the server prices the row.
    expect(row).toMatchObject({
      timestamp: '2026-11-28T12:00:00Z',
      estimatedCostUSD: 0.00045,
      clientCostUSD: 0.1,
      ingestTokenId: null,
    });

    expect((await ctx.admin('POST', '/log', { model: 'x', promptTokens: 'ten' })).statusCode).toBe(400);
    expect((await ctx.admin('POST', '/log', { model: 'x', timestamp: 'soon' })).statusCode).toBe(400);
    expect((await ctx.app.inject({ method: 'POST', url: '/log', payload: { model: 'x' } })).statusCode).toBe(
      401,
    );
  });
});
