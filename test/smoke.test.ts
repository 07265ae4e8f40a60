import { afterEach, beforeEach, expect, test } from 'vitest';
import { createTestApp, type TestContext } from './helpers.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestApp();
});
afterEach(async () => {
  await ctx.close();
});

test('a record ingested through the API shows up in /data, /ingest/tokens, /metrics and the CSV', async () => {
  const tok = await ctx.createToken('prod');
  const r = await ctx.ingest({
    tracking_token: tok.token,
    model: 'gpt-4o-mini',
    prompt_tokens: 1000,
    completion_tokens: 500,
  });
  expect(r.statusCode).toBe(201);
  expect(r.json()).toEqual({ ok: true, id: 1, cost_usd: 0.00045, pricing_status: 'priced' });
  const d = await ctx.admin('GET', '/data');
  expect(d.json().data[0]).toMatchObject({
    id: 1,
    model: 'gpt-4o-mini',
    estimatedCostUSD: 0.00045,
    tokenLabel: 'prod',
  });
  const t = await ctx.admin('GET', '/ingest/tokens');
  expect(t.json().tokens[0]).toMatchObject({ label: 'prod', usage_count: 1, active: 1 });
  const m = await ctx.admin('GET', '/metrics');
  expect(m.json().counters.ingest_success).toBe(1);
  const c = await ctx.admin('GET', '/data?format=csv');
  expect(c.body.split('\r\n')[1]).toBe(
    '1,2026-11-28T12:00:00Z,gpt-4o-mini,1000,500,1500,0.00045,openai,1,prod,,ingest,0,0,0,0,0,,false,priced,,,',
  );
});
