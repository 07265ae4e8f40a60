import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ADMIN_KEY, createTestApp, type TestContext } from './helpers.js';

let ctx: TestContext;
afterEach(async () => {
  await ctx.close();
});

function cookieOf(response: { headers: Record<string, unknown> }): string {
  const header = response.headers['set-cookie'];
  const line = Array.isArray(header) ? header[0] : header;
  return String(line);
}

async function signIn(remember: boolean, headers: Record<string, string> = {}) {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/auth/session',
    headers,
    payload: { key: ADMIN_KEY, remember },
  });
  const setCookie = cookieOf(response);
  const value = /cg_session=([^;]+)/.exec(setCookie)?.[1] ?? '';
  return { response, setCookie, cookie: `cg_session=${value}`, csrf: response.json().csrf_token as string };
}

describe('with API_KEY set', () => {
  beforeEach(async () => {
    ctx = await createTestApp();
  });

  test('signing in with the right key sets an HttpOnly SameSite=Strict cookie that opens admin routes', async () => {
    const { response, setCookie, cookie } = await signIn(false);
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ required: true, signed_in: true, remember: false });
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toMatch(/Max-Age|Expires/);
    expect(setCookie).not.toMatch(/Secure/);
    expect(setCookie).not.toContain(ADMIN_KEY);
    const tokens = await ctx.app.inject({ method: 'GET', url: '/ingest/tokens', headers: { cookie } });
    expect(tokens.statusCode).toBe(200);
    const state = await ctx.app.inject({ method: 'GET', url: '/auth/session', headers: { cookie } });
    expect(state.json()).toMatchObject({ signed_in: true, csrf_token: response.json().csrf_token });
  });

  test('remember me gives a persistent cookie with a 30-day Max-Age', async () => {
    const { response, setCookie } = await signIn(true);
    expect(response.json().remember).toBe(true);
    expect(setCookie).toMatch(/Max-Age=2592000/);
  });

  test('the cookie is Secure when the request came over TLS through a trusted proxy', async () => {
    await ctx.close();
    ctx = await createTestApp({ TRUST_PROXY: 'true' });
    const { setCookie } = await signIn(false, { 'x-forwarded-proto': 'https' });
    expect(setCookie).toMatch(/Secure/);
  });

  test('a wrong key answers 401, sets no cookie and counts against the auth-failure limit', async () => {
    await ctx.close();
    ctx = await createTestApp({ AUTH_FAILURES_PER_MINUTE: '2' });
    for (let i = 0; i < 2; i += 1) {
      const wrong = await ctx.app.inject({
        method: 'POST',
        url: '/auth/session',
        payload: { key: 'not-the-key', remember: false },
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toMatchObject({ code: 'unauthorized', message: 'Wrong admin key' });
      expect(wrong.headers['set-cookie']).toBeUndefined();
    }
    const blocked = await ctx.app.inject({
      method: 'POST',
      url: '/auth/session',
      payload: { key: ADMIN_KEY, remember: false },
    });
    expect(blocked.statusCode).toBe(429);
  });

  test('a state-changing request with the cookie needs the X-CSRF-Token; one with X-API-Key does not', async () => {
    const { cookie, csrf } = await signIn(false);
    const create = (headers: Record<string, string>) =>
      ctx.app.inject({
        method: 'POST',
        url: '/ingest/tokens',
        headers,
        payload: { label: `l${Math.random()}` },
      });
    const missing = await create({ cookie });
    expect(missing.statusCode).toBe(403);
    expect(missing.json().code).toBe('forbidden');
    expect((await create({ cookie, 'x-csrf-token': 'forged' })).statusCode).toBe(403);
    expect((await create({ cookie, 'x-csrf-token': csrf })).statusCode).toBe(201);
    expect((await create({ 'x-api-key': ADMIN_KEY })).statusCode).toBe(201);
  });

  test('signing out revokes the session on the server, not only in the browser', async () => {
    const { cookie, csrf } = await signIn(true);
    const refused = await ctx.app.inject({ method: 'DELETE', url: '/auth/session', headers: { cookie } });
    expect(refused.statusCode).toBe(403);
    const out = await ctx.app.inject({
      method: 'DELETE',
      url: '/auth/session',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(out.statusCode).toBe(200);
    expect(cookieOf(out)).toMatch(/cg_session=;/);
    const after = await ctx.app.inject({ method: 'GET', url: '/ingest/tokens', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    const state = await ctx.app.inject({ method: 'GET', url: '/auth/session', headers: { cookie } });
    expect(state.json()).toMatchObject({ required: true, signed_in: false, csrf_token: null });
  });

  test('a session ends at its expiry: 12 hours unremembered, 30 days remembered', async () => {
    const short = await signIn(false);
    const long = await signIn(true);
    ctx.clock.advance(12 * 60 * 60 * 1000 + 1);
    const get = (cookie: string) =>
      ctx.app.inject({ method: 'GET', url: '/ingest/tokens', headers: { cookie } });
    expect((await get(short.cookie)).statusCode).toBe(401);
    expect((await get(long.cookie)).statusCode).toBe(200);
    ctx.clock.advance(30 * 24 * 60 * 60 * 1000);
    expect((await get(long.cookie)).statusCode).toBe(401);
  });

  test('only a hash of the session id is stored in the database', async () => {
    const { cookie } = await signIn(true);
    const id = cookie.split('=')[1] ?? '';
    const rows = ctx.store.db.prepare('SELECT id_hash FROM admin_sessions').all() as { id_hash: string }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]?.id_hash).not.toContain(id);
    expect(rows[0]?.id_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a forged or unknown session cookie is 401, not access', async () => {
    const r = await ctx.app.inject({
      method: 'GET',
      url: '/data',
      headers: { cookie: 'cg_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    });
    expect(r.statusCode).toBe(401);
  });
});

describe('in development without API_KEY', () => {
  beforeEach(async () => {
    ctx = await createTestApp({ API_KEY: '' });
  });

  test('the page is told that no sign-in is needed, and signing in is refused as unnecessary', async () => {
    const state = await ctx.app.inject({ method: 'GET', url: '/auth/session' });
    expect(state.json()).toMatchObject({ required: false, signed_in: true });
    const r = await ctx.app.inject({
      method: 'POST',
      url: '/auth/session',
      payload: { key: 'anything', remember: false },
    });
    expect(r.statusCode).toBe(400);
    expect((await ctx.app.inject({ method: 'GET', url: '/ingest/tokens' })).statusCode).toBe(200);
  });
});
