import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CostGuardian, type DeliveryEvent } from '../packages/client/src/node.js';
import { manualScheduler } from './client-scheduler.js';
import { type Served, serve } from './e2e/harness.js';
import { chatCompletion, type FakeOpenAi, startFakeOpenAi } from './fake-openai.js';
import { INGEST_KEY } from './helpers.js';

/**
 * Delivery when Cost Guardian misbehaves: a front proxy on a real port passes requests to the
 * real app, or refuses them, answers 503, loses the answer after the app stored the batch, or adds
 * budget verdicts. The client's clock is driven by the test; nothing sleeps.
 */

type Mode = 'up' | 'refuse' | 'unavailable' | 'lost-answer' | 'budgets';

interface Front {
  url: string;
  mode: Mode;
  /** Client clock time of every request the proxy received, and what it did. */
  attempts: { at: number; mode: Mode }[];
  close(): Promise<void>;
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function startFront(target: string, clock: () => number): Promise<Front> {
  const front: Front = { url: '', mode: 'up', attempts: [], close: async () => {} };
  const server: Server = createServer((request, response) => {
    const mode = front.mode;
    front.attempts.push({ at: clock(), mode });
    void (async () => {
      const body = await readAll(request);
      if (mode === 'refuse') return request.socket.destroy();
      if (mode === 'unavailable') {
        response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '7' });
        return response.end(
          JSON.stringify({ status: 'error', code: 'unavailable', message: 'database busy', requestId: 'r1' }),
        );
      }
      const answer = await new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>(
        (resolve, reject) => {
          const upstream = httpRequest(
            `${target}${request.url}`,
            { method: request.method, headers: request.headers },
            (res) =>
              void readAll(res).then((b) =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }),
              ),
          );
          upstream.on('error', reject);
          upstream.end(body);
        },
      );
      // Stored by the app, but the client never hears so.
      if (mode === 'lost-answer') return request.socket.destroy();
      let text = answer.body.toString();
      if (mode === 'budgets') {
        const json = JSON.parse(text);
        json.budgets = [{ id: 3, name: 'monthly', state: 'warning', spent_usd: 81, limit_usd: 100 }];
        text = JSON.stringify(json);
      }
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(text);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  front.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  front.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return front;
}

let guardian: Served;
let fake: FakeOpenAi;
beforeAll(async () => {
  guardian = await serve();
  fake = await startFakeOpenAi();
});
afterAll(async () => {
  await guardian.close();
  await fake.close();
});

async function rowsOf(tokenId: number): Promise<{ eventId: string }[]> {
  const response = await guardian.admin('GET', `/data?ingest_token_id=${tokenId}&limit=1000`);
  return response.json().data;
}

async function setup(label: string, options: { maxQueue?: number; batchSize?: number } = {}) {
  const token = await guardian.createToken(label);
  const scheduler = manualScheduler();
  const front = await startFront(guardian.baseUrl, scheduler.now);
  const events: DeliveryEvent[] = [];
  const client = new CostGuardian({
    trackingToken: token.token,
    endpoint: front.url,
    ingestKey: INGEST_KEY,
    exitHooks: false,
    scheduler,
    random: () => 0.5,
    onError: (event) => events.push(event),
    ...options,
  });
  /** Runs the next timer and waits until the request it started (if any) is answered. */
  const step = async () => {
    const due = scheduler.nextDue();
    if (due === undefined) return false;
    scheduler.advanceTo(due);
    await expect.poll(() => client.delivery.isSending(), { timeout: 20_000, interval: 5 }).toBe(false);
    return true;
  };
  return { token, scheduler, front, client, events, step };
}

test('Cost Guardian down for 30 s then back: every record is stored exactly once', async () => {
  const { token, scheduler, front, client, events, step } = await setup('outage', { batchSize: 25 });
  const openai = client.wrapOpenAI(new OpenAI({ baseURL: fake.baseUrl, apiKey: 'sk-test', maxRetries: 0 }));
  const call = (n: number) =>
    openai.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-fake-id': `outage-${n}` } },
    );
  const start = scheduler.now();
  // The first batch is stored, but its answer is lost: the client must resend it.
  front.mode = 'lost-answer';
  for (let n = 0; n < 20; n += 1) await call(n);
  await step();
  expect(client.stats()).toMatchObject({ retries: 1, delivered: 0, queued: 20 });
  // Down: connections refused, then 503 with Retry-After, for 30 s of the client's clock.
  let calls = 20;
  while (scheduler.now() - start < 30_000) {
    front.mode = front.attempts.length % 2 === 0 ? 'refuse' : 'unavailable';
    await call(calls++);
    await step();
  }
  const downAttempts = front.attempts.filter((a) => a.mode === 'refuse' || a.mode === 'unavailable');
  expect(downAttempts.length).toBeGreaterThanOrEqual(3);
  // Never sooner than Retry-After (7 s) after a 503, and the backoff grows.
  front.attempts.forEach((attempt, i) => {
    const next = front.attempts[i + 1];
    if (attempt.mode === 'unavailable' && next) expect(next.at - attempt.at).toBeGreaterThanOrEqual(7000);
  });
  const gaps = front.attempts.slice(1).map((a, i) => a.at - (front.attempts[i]?.at ?? 0));
  expect(gaps.at(-1)).toBeGreaterThan(gaps[0] ?? 0);
  front.mode = 'up';
  while (client.stats().queued > 0) await step();
  const rows = await rowsOf(token.id);
  expect(rows).toHaveLength(calls);
  expect(new Set(rows.map((r) => r.eventId))).toEqual(
    new Set(Array.from({ length: calls }, (_, n) => `chatcmpl-outage-${n}`)),
  );
  expect(client.stats()).toMatchObject({
    delivered: calls - 20,
    duplicates: 20,
    dropped: 0,
    rejected: 0,
    queued: 0,
  });
  expect(events.filter((e) => e.kind === 'retry').length).toBe(client.stats().retries);
  expect(events.at(-1)).toMatchObject({ kind: 'recovered' });
  client.close();
  await front.close();
});

test('a full queue drops new records and counts them; what was queued is delivered', async () => {
  const { token, front, client, events, step } = await setup('overflow', { maxQueue: 5 });
  front.mode = 'refuse';
  for (let n = 0; n < 8; n += 1) client.track(chatCompletion(`chatcmpl-overflow-${n}`, 'gpt-4o-mini'));
  expect(client.stats()).toMatchObject({ queued: 5, dropped: 3 });
  expect(events.filter((e) => e.kind === 'dropped')).toHaveLength(3);
  await step();
  front.mode = 'up';
  while (client.stats().queued > 0) await step();
  expect((await rowsOf(token.id)).map((r) => r.eventId).sort()).toEqual(
    [0, 1, 2, 3, 4].map((n) => `chatcmpl-overflow-${n}`),
  );
  client.close();
  await front.close();
});

test('records Cost Guardian refuses for good are counted and not retried', async () => {
  const { front, client, events, step } = await setup('refused');
  const stranger = new CostGuardian({
    trackingToken: 'tok_not_a_real_token_000',
    endpoint: front.url,
    ingestKey: INGEST_KEY,
    exitHooks: false,
    scheduler: client.options.scheduler,
    onError: (event) => events.push(event),
  });
  stranger.track(chatCompletion('chatcmpl-stranger', 'gpt-4o-mini'));
  const scheduler = client.options.scheduler as ReturnType<typeof manualScheduler>;
  scheduler.advanceTo(scheduler.now() + 1000);
  await expect.poll(() => stranger.stats().rejected, { timeout: 20_000 }).toBe(1);
  expect(stranger.stats()).toMatchObject({ queued: 0, retries: 0 });
  expect(events).toContainEqual({
    kind: 'rejected',
    count: 1,
    code: 'unknown_token',
    reason: 'Unknown tracking token',
  });
  await step();
  stranger.close();
  client.close();
  await front.close();
});

test('budget verdicts in an ingest answer reach onBudget and lastBudgets (arrives with budgets)', async () => {
  const token = await guardian.createToken('budgets');
  const scheduler = manualScheduler();
  const front = await startFront(guardian.baseUrl, scheduler.now);
  front.mode = 'budgets';
  const seen: unknown[] = [];
  const client = new CostGuardian({
    trackingToken: token.token,
    endpoint: front.url,
    ingestKey: INGEST_KEY,
    exitHooks: false,
    scheduler,
    onBudget: (verdicts) => seen.push(...verdicts),
  });
  expect(client.lastBudgets()).toEqual([]);
  client.track(chatCompletion('chatcmpl-budget-1', 'gpt-4o-mini'));
  scheduler.advanceTo(scheduler.now() + 1000);
  await expect.poll(() => client.stats().delivered, { timeout: 20_000 }).toBe(1);
  expect(client.lastBudgets()).toEqual([
    { id: 3, name: 'monthly', state: 'warning', spent_usd: 81, limit_usd: 100 },
  ]);
  expect(seen).toEqual(client.lastBudgets());
  client.close();
  await front.close();
});

test('a batch over the server body limit is split until it fits', async () => {
  const small = await serve({ BODY_LIMIT_BYTES: '4096' });
  const token = await small.createToken('split');
  const scheduler = manualScheduler();
  const client = new CostGuardian({
    trackingToken: token.token,
    endpoint: small.baseUrl,
    ingestKey: INGEST_KEY,
    exitHooks: false,
    scheduler,
  });
  for (let n = 0; n < 12; n += 1) client.track(chatCompletion(`chatcmpl-split-${n}`, 'gpt-4o-mini'));
  const flushed = client.flush(60_000);
  while (client.stats().queued > 0) {
    scheduler.advanceTo(scheduler.nextDue() ?? scheduler.now());
    await expect.poll(() => client.delivery.isSending(), { timeout: 20_000, interval: 5 }).toBe(false);
  }
  expect(await flushed).toEqual({ pending: 0 });
  expect(client.stats()).toMatchObject({ delivered: 12, rejected: 0 });
  const response = await small.admin('GET', `/data?ingest_token_id=${token.id}`);
  expect(response.json().data).toHaveLength(12);
  client.close();
  await small.close();
});
