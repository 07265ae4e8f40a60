import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, type TestContext } from './helpers.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => {
  await ctx.close();
});

const listTokens = async () =>
  (await ctx.admin('GET', '/ingest/tokens')).json().tokens as Record<string, unknown>[];

describe('tracking tokens', () => {
  test('creating a token answers 201 with its id and a token of TRACKING_TOKEN_LENGTH characters', async () => {
    const response = await ctx.admin('POST', '/ingest/tokens', { label: '  Production App  ' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({ label: 'Production App', created_at: '2026-11-28T12:00:00Z' });
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(typeof body.id).toBe('number');
  });

  test('TRACKING_TOKEN_LENGTH counts characters, not bytes', async () => {
    for (const length of ['16', '64']) {
      const other = await createTestApp({ TRACKING_TOKEN_LENGTH: length });
      try {
        const { token } = await other.createToken('x');
        expect(token).toHaveLength(Number(length));
      } finally {
        await other.close();
      }
    }
  });

  test('the list shows every live token on first call, newest first, with usage, spend and masked value', async () => {
    const { token } = await ctx.createToken('listed');
    await ctx.ingest({
      tracking_token: token,
      model: 'gpt-4o-mini',
      prompt_tokens: 1000,
      completion_tokens: 500,
    });
    await ctx.ingest({ tracking_token: token, model: 'mystery-model', prompt_tokens: 10 });
    const [first] = await listTokens();
    expect(first).toMatchObject({
      label: 'listed',
      token,
      active: 1,
      usage_count: 2,
      cost_usd: 0.00045,
      unpriced_count: 1,
      last_seen_at: '2026-11-28T12:00:00Z',
      // Issue 17.12: the mask added a "tok_" prefix that is not part of the token.
      token_masked: `${token.slice(0, 4)}…${token.slice(-4)}`,
    });
  });

  test('labels must be 1-64 characters after trimming', async () => {
    for (const label of ['', '   ', 'x'.repeat(65)]) {
      const response = await ctx.admin('POST', '/ingest/tokens', { label });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        code: 'invalid_request',
        message: 'Label must be 1-64 characters',
      });
    }
    expect((await ctx.admin('POST', '/ingest/tokens', { label: 'y'.repeat(64) })).statusCode).toBe(201);
  });

  test('a non-string label, a missing body or malformed JSON is a 400, not a 500', async () => {
    expect((await ctx.admin('POST', '/ingest/tokens', { label: 5 })).statusCode).toBe(400);
    expect((await ctx.admin('POST', '/ingest/tokens', {})).statusCode).toBe(400);
    const malformed = await ctx.app.inject({
      method: 'POST',
      url: '/ingest/tokens',
      headers: { 'x-api-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
      payload: '{"label":',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().status).toBe('error');
  });

  test('a duplicate label is a 409 conflict', async () => {
    await ctx.createToken('twin');
    const response = await ctx.admin('POST', '/ingest/tokens', { label: 'twin' });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'conflict', message: "Label 'twin' already exists" });
  });

  test('active must be a JSON boolean: the string "false" is refused, not read as true', async () => {
    const { id } = await ctx.createToken('toggle');
    const stringy = await ctx.admin('PATCH', `/ingest/tokens/${id}/active`, { active: 'false' });
    expect(stringy.statusCode).toBe(400);
    expect(stringy.json().message).toMatch(/active must be boolean/);
    const missing = await ctx.admin('PATCH', `/ingest/tokens/${id}/active`, {});
    expect(missing.statusCode).toBe(400);

    const off = await ctx.admin('PATCH', `/ingest/tokens/${id}/active`, { active: false });
    expect(off.json()).toEqual({ ok: true, id, active: false });
    expect((await listTokens()).find((t) => t.id === id)?.active).toBe(0);
  });

  test('PATCH and DELETE on an unknown id are 404', async () => {
    const patch = await ctx.admin('PATCH', '/ingest/tokens/99999/active', { active: true });
    expect(patch.statusCode).toBe(404);
    expect(patch.json()).toMatchObject({ code: 'not_found' });
    expect((await ctx.admin('DELETE', '/ingest/tokens/99999')).statusCode).toBe(404);
    expect((await ctx.admin('DELETE', '/ingest/tokens/abc')).statusCode).toBe(400);
  });

  test('deleting a token stops its ingest but keeps its usage rows, attributed and exportable', async () => {
    const { id, token } = await ctx.createToken('retired');
    await ctx.ingest({ tracking_token: token, model: 'gpt-4o-mini', prompt_tokens: 7, event_id: 'r-1' });
    const deleted = await ctx.admin('DELETE', `/ingest/tokens/${id}`);
    expect(deleted.json()).toEqual({ ok: true });

    expect((await listTokens()).some((t) => t.id === id)).toBe(false);
    expect((await ctx.ingest({ tracking_token: token, model: 'gpt-4o-mini' })).statusCode).toBe(404);
    expect((await ctx.admin('DELETE', `/ingest/tokens/${id}`)).statusCode).toBe(404);

    const rows = (await ctx.admin('GET', `/data?ingest_token_id=${id}`)).json().data;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ingestTokenId: id, tokenLabel: 'retired', eventId: 'r-1' });
    const csv = (await ctx.admin('GET', `/data?format=csv&ingest_token_id=${id}`)).body;
    expect(csv).toContain(',retired,r-1,');

    // The label is free again for a new token; the old rows stay with the old token.
    const again = await ctx.admin('POST', '/ingest/tokens', { label: 'retired' });
    expect(again.statusCode).toBe(201);
    expect(again.json().id).not.toBe(id);
  });

  test('every token route needs the admin key', async () => {
    for (const [method, url] of [
      ['GET', '/ingest/tokens'],
      ['POST', '/ingest/tokens'],
      ['PATCH', '/ingest/tokens/1/active'],
      ['DELETE', '/ingest/tokens/1'],
    ] as const) {
      const response = await ctx.app.inject({ method, url, payload: method === 'GET' ? undefined : {} });
      expect(response.statusCode, `${method} ${url}`).toBe(401);
      expect(response.json()).toMatchObject({
        code: 'unauthorized',
        message: 'Invalid or missing X-API-Key',
      });
    }
  });
});
