import { afterAll, beforeAll, expect, test } from 'vitest';
import { ADMIN_KEY, createTestApp, type TestContext } from './helpers.js';

/**
 * Requests the router or the CORS plugin refuse before any route runs still get the one error
 * shape. Each case was found by the fuzz harness (test/reliability) answering in Fastify's or
 * @fastify/cors's own body.
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp({ ALLOWED_ORIGINS: 'https://app.example' });
});
afterAll(async () => {
  await ctx.close();
});

function expectErrorShape(response: Awaited<ReturnType<TestContext['admin']>>, status: number, code: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(response.json()).toEqual({
    status: 'error',
    code,
    message: expect.any(String),
    requestId: response.headers['x-request-id'],
  });
}

test('a path parameter over 100 characters is a 400 in the error shape (was 414 with a Fastify body)', async () => {
  const response = await ctx.app.inject({ method: 'GET', url: `/dashboard/assets/${'a'.repeat(300)}.js` });
  expectErrorShape(response, 400, 'invalid_request');
  expect(response.json().message).toBe('A path parameter is longer than 100 characters');
});

test('a path parameter that is not valid percent-encoding is a 400 in the error shape', async () => {
  const response = await ctx.app.inject({
    method: 'DELETE',
    url: '/ingest/tokens/%E0%A4%A',
    headers: { 'x-api-key': ADMIN_KEY },
  });
  expectErrorShape(response, 400, 'invalid_request');
});

test('with ALLOWED_ORIGINS, an OPTIONS that is not a preflight is a 400 in the error shape (was text/plain)', async () => {
  const bare = await ctx.app.inject({ method: 'OPTIONS', url: '/data' });
  expectErrorShape(bare, 400, 'invalid_request');
  const noMethod = await ctx.app.inject({
    method: 'OPTIONS',
    url: '/data',
    headers: { origin: 'https://app.example' },
  });
  expectErrorShape(noMethod, 400, 'invalid_request');
  const preflight = await ctx.app.inject({
    method: 'OPTIONS',
    url: '/data',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
  });
  expect(preflight.statusCode).toBe(204);
  expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
});
