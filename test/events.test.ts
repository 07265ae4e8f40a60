import { afterEach, beforeEach, expect, test } from 'vitest';
import { ADMIN_KEY, createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

let ctx: TestContext;
let base: string;
beforeEach(async () => {
  ctx = await createTestApp();
  base = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
});
afterEach(async () => {
  await ctx.close();
});

/**
 * Every server-sent event of a real HTTP stream, until the server ends it (closing the app ends
 * every stream). Time is the manual clock's: the test moves it, nothing here waits on a timer.
 */
async function readAllEvents(response: Response) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  return text
    .split('\n\n')
    .map((block) => ({ event: /^event: (.+)$/m.exec(block)?.[1], data: /^data: (.+)$/m.exec(block)?.[1] }))
    .filter((e) => e.event !== undefined)
    .map((e) => ({ event: e.event, data: JSON.parse(e.data ?? 'null') }));
}

/** Opens a stream (registered on the server once its headers arrived) and starts reading it. */
async function openStream() {
  const response = await fetch(`${base}/events`, { headers: { 'x-api-key': ADMIN_KEY } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  return { events: readAllEvents(response) };
}

test('GET /events needs the admin key', async () => {
  const response = await fetch(`${base}/events`);
  expect(response.status).toBe(401);
});

test('HEAD /events answers the stream headers at once and ends (it hung: found by the fuzz harness)', async () => {
  const response = await fetch(`${base}/events`, { method: 'HEAD', headers: { 'x-api-key': ADMIN_KEY } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(await response.text()).toBe('');
});

test('committed usage is announced at once, then at most once a second however many records arrive', async () => {
  const tok = await ctx.createToken('live');
  const record = (i: number) => ({
    tracking_token: tok.token,
    model: 'gpt-4o-mini',
    prompt_tokens: 10,
    completion_tokens: 5,
    event_id: `e${i}`,
  });
  const { events } = await openStream();
  expect((await ctx.ingest(record(0))).statusCode).toBe(201);
  ctx.clock.advance(0);
  for (let i = 1; i < 8; i += 1) expect((await ctx.ingest(record(i))).statusCode).toBe(201);
  ctx.clock.advance(999);
  // Still inside the second after the first event: this record joins the pending one.
  expect((await ctx.ingest(record(8))).statusCode).toBe(201);
  ctx.clock.advance(1);
  expect((await ctx.ingest(record(9))).statusCode).toBe(201);
  ctx.clock.advance(1000);
  await ctx.app.close();
  expect((await events).map((e) => e.data)).toEqual([
    { rows: 1, reset: false },
    { rows: 8, reset: false },
    { rows: 1, reset: false },
  ]);
});

test('a duplicate ingest announces nothing and a reset is announced', async () => {
  const tok = await ctx.createToken('dup');
  const record = {
    tracking_token: tok.token,
    model: 'gpt-4o-mini',
    prompt_tokens: 1,
    completion_tokens: 1,
    event_id: 'e1',
  };
  await ctx.ingest(record);
  ctx.clock.advance(5000);
  const { events } = await openStream();
  expect((await ctx.ingest(record)).json().duplicate).toBe(true);
  ctx.clock.advance(5000);
  await ctx.admin('DELETE', '/reset');
  ctx.clock.advance(0);
  await ctx.app.close();
  expect((await events).map((e) => e.data)).toEqual([{ rows: 0, reset: true }]);
});

test('an idle stream gets a comment every 25 s so that proxies keep it open', async () => {
  const response = await fetch(`${base}/events`, { headers: { 'x-api-key': ADMIN_KEY } });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  ctx.clock.advance(50_000);
  await ctx.app.close();
  let text = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += new TextDecoder().decode(chunk.value);
  }
  expect(text.match(/^: ping$/gm)).toHaveLength(2);
});

test('refused ingest records are announced as one refused event, even when nothing was committed', async () => {
  const tok = await ctx.createToken('refused');
  await ctx.admin('PATCH', `/ingest/tokens/${tok.id}/active`, { active: false });
  const { events } = await openStream();
  const batch = await ctx.app.inject({
    method: 'POST',
    url: '/ingest/batch',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: {
      records: [
        { tracking_token: tok.token, model: 'gpt-4o-mini', prompt_tokens: 1, completion_tokens: 1 },
        { tracking_token: 'no-such-token-0123456789', model: 'gpt-4o-mini', prompt_tokens: 1 },
        { tracking_token: tok.token, model: 'gpt-4o-mini', prompt_tokens: -1 },
      ],
    },
  });
  expect(batch.json()).toMatchObject({ created: 0, rejected: 3 });
  ctx.clock.advance(0);
  await ctx.app.close();
  expect(await events).toEqual([{ event: 'refused', data: { records: 3 } }]);
});
