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

/** Reads server-sent events from a real HTTP stream until `count` events or the timeout. */
async function readEvents(response: Response, count: number, timeoutMs: number) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { event: string; data: unknown; at: number }[] = [];
  let buffer = '';
  const deadline = Date.now() + timeoutMs;
  while (events.length < count && Date.now() < deadline) {
    const chunk = await Promise.race([
      reader.read(),
      new Promise<undefined>((resolve) =>
        setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now())),
      ),
    ]);
    if (!chunk || chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data), at: Date.now() });
      end = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}

test('GET /events needs the admin key', async () => {
  const response = await fetch(`${base}/events`);
  expect(response.status).toBe(401);
});

test('committed usage is announced once per second, however many records arrived', async () => {
  const tok = await ctx.createToken('live');
  const response = await fetch(`${base}/events`, { headers: { 'x-api-key': ADMIN_KEY } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reading = readEvents(response, 3, 2500);
  for (let i = 0; i < 8; i += 1) {
    await ctx.ingest({
      tracking_token: tok.token,
      model: 'gpt-4o-mini',
      prompt_tokens: 10,
      completion_tokens: 5,
    });
  }
  const events = await reading;
  expect(events.reduce((sum, e) => sum + (e.data as { rows: number }).rows, 0)).toBe(8);
  expect(events.length).toBeGreaterThanOrEqual(2);
  expect(events.length).toBeLessThan(8);
  for (let i = 1; i < events.length; i += 1) {
    expect((events[i]?.at ?? 0) - (events[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(900);
  }
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
  const response = await fetch(`${base}/events`, { headers: { 'x-api-key': ADMIN_KEY } });
  const reading = readEvents(response, 1, 3000);
  expect((await ctx.ingest(record)).json().duplicate).toBe(true);
  await ctx.admin('DELETE', '/reset');
  expect((await reading).map((e) => e.data)).toEqual([{ rows: 0, reset: true }]);
});

test('refused ingest records are announced as one refused event, even when nothing was committed', async () => {
  const tok = await ctx.createToken('refused');
  await ctx.admin('PATCH', `/ingest/tokens/${tok.id}/active`, { active: false });
  const response = await fetch(`${base}/events`, { headers: { 'x-api-key': ADMIN_KEY } });
  const reading = readEvents(response, 2, 3000);
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
  expect(await reading).toMatchObject([{ event: 'refused', data: { records: 3 } }]);
});
