import { afterEach, beforeEach, expect, test } from 'vitest';
import { SESSION_RATE_LIMIT } from '../src/http/hooks/rate-limit.js';
import { ADMIN_KEY, createTestApp, type TestContext } from './helpers.js';

/**
 * Issue 17.4: the dashboard tripped its own admin limit (60 a minute per IP): a few reloads showed
 * "Rate limit exceeded". Requests with a valid session cookie are charged to the session's own,
 * generous bucket; X-API-Key requests, bad cookies and wrong keys keep the per-IP limits.
 */

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestApp({ RATE_LIMIT_RPM: '5', AUTH_FAILURES_PER_MINUTE: '3' });
});
afterEach(async () => {
  await ctx.close();
});

async function signIn(): Promise<string> {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/auth/session',
    payload: { key: ADMIN_KEY },
  });
  expect(response.statusCode).toBe(201);
  const value = /cg_session=([^;]+)/.exec(String(response.headers['set-cookie']))?.[1];
  return `cg_session=${value}`;
}

const get = (url: string, headers: Record<string, string>) => ctx.app.inject({ method: 'GET', url, headers });

test('a signed-in session is not throttled by the per-IP admin limit', async () => {
  const cookie = await signIn();
  for (let i = 0; i < 60; i += 1) {
    const response = await get(i % 2 === 0 ? '/usage/summary' : '/auth/session', { cookie });
    expect(response.statusCode, `request ${i + 1}: ${response.body}`).toBe(200);
  }
  const last = await get('/ingest/tokens', { cookie });
  expect(Number(last.headers['x-ratelimit-limit'])).toBe(SESSION_RATE_LIMIT.capacity);
});

test('the session has its own bound: a runaway page gets 429 with Retry-After', async () => {
  const cookie = await signIn();
  let refused: Awaited<ReturnType<typeof get>> | undefined;
  for (let i = 0; i <= SESSION_RATE_LIMIT.capacity && !refused; i += 1) {
    const response = await get('/auth/session', { cookie });
    if (response.statusCode === 429) refused = response;
  }
  expect(refused?.json().code).toBe('rate_limited');
  expect(Number(refused?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
});

test('X-API-Key requests from the same IP keep the per-IP limit, whatever sessions do', async () => {
  const cookie = await signIn();
  const statuses: number[] = [];
  for (let i = 0; i < 8; i += 1)
    statuses.push((await get('/usage/summary', { 'x-api-key': ADMIN_KEY })).statusCode);
  // The sign-in itself spent one request of the IP's five.
  expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
  expect((await get('/usage/summary', { cookie })).statusCode).toBe(200);
});

test('an unknown session cookie is charged to the IP and counted as an authentication failure', async () => {
  const cookie = 'cg_session=not-a-session-that-exists-0000000000000000000';
  const statuses: number[] = [];
  for (let i = 0; i < 5; i += 1) statuses.push((await get('/ingest/tokens', { cookie })).statusCode);
  expect(statuses).toEqual([401, 401, 401, 429, 429]);
  const wrongKey = await ctx.app.inject({ method: 'POST', url: '/auth/session', payload: { key: 'wrong' } });
  expect(wrongKey.statusCode).toBe(429);
});
