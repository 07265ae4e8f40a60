import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, type TestContext } from './helpers.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => {
  await ctx.close();
});

test('the dashboard page is public, never cached, and under a CSP that allows no inline script', async () => {
  const page = await ctx.app.inject({ method: 'GET', url: '/dashboard' });
  expect(page.statusCode).toBe(200);
  expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(page.headers['cache-control']).toBe('no-store');
  const csp = String(page.headers['content-security-policy']);
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(page.body).not.toMatch(/<style|\sstyle=/);
  expect((await ctx.app.inject({ method: 'GET', url: '/dashboard/' })).body).toBe(page.body);
});

test('built assets are served precompressed and cached for a year', async () => {
  const page = await ctx.app.inject({ method: 'GET', url: '/dashboard' });
  const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(page.body)?.[1] ?? '';
  expect(script).not.toBe('');
  const plain = await ctx.app.inject({ method: 'GET', url: script });
  expect(plain.statusCode).toBe(200);
  expect(plain.headers['content-type']).toMatch(/javascript/);
  expect(String(plain.headers['cache-control'])).toContain('immutable');
  const br = await ctx.app.inject({ method: 'GET', url: script, headers: { 'accept-encoding': 'br, gzip' } });
  expect(br.headers['content-encoding']).toBe('br');
  expect(br.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
  const missing = await ctx.app.inject({ method: 'GET', url: '/dashboard/assets/nope.js' });
  expect(missing.statusCode).toBe(404);
});
