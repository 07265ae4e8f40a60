import OpenAI, { RateLimitError } from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CostGuardian, withAttribution } from '../packages/client/src/node.js';
import { type Served, serve } from './e2e/harness.js';
import { batchOutputFile, type FakeOpenAi, startFakeOpenAi } from './fake-openai.js';
import { INGEST_KEY } from './helpers.js';

/**
 * The TypeScript client against the real openai SDK, a fake OpenAI server speaking real HTTP and
 * SSE, and the real Cost Guardian on a real port: every call kind is stored once with the right
 * buckets and cost, and the caller gets exactly what it would get unwrapped.
 */

let guardian: Served;
let fake: FakeOpenAi;
const clients: CostGuardian[] = [];

beforeAll(async () => {
  guardian = await serve();
  fake = await startFakeOpenAi();
});
afterAll(async () => {
  for (const client of clients) client.close();
  await guardian.close();
  await fake.close();
});

/** Per-test tracking token, Cost Guardian client, raw SDK client and wrapped SDK client. */
async function setup(label: string) {
  const token = await guardian.createToken(label);
  const client = new CostGuardian({
    trackingToken: token.token,
    endpoint: guardian.baseUrl,
    ingestKey: INGEST_KEY,
    exitHooks: false,
  });
  clients.push(client);
  const raw = new OpenAI({ baseURL: fake.baseUrl, apiKey: 'sk-test-not-a-real-key', maxRetries: 0 });
  return { token, client, raw, tracked: client.wrapOpenAI(raw) };
}

interface Row {
  eventId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  serviceTier: string | null;
  batch: boolean;
  estimatedCostUSD: number | null;
  pricingStatus: string;
  user: string | null;
  tags: Record<string, string> | null;
}

async function rowsOf(tokenId: number): Promise<Row[]> {
  const response = await guardian.admin('GET', `/data?ingest_token_id=${tokenId}&limit=1000`);
  return response.json().data;
}

async function flushed(client: CostGuardian) {
  expect(await client.flush(20_000)).toEqual({ pending: 0 });
}

const headers = (id: string, scenario?: string) => ({
  headers: { 'x-fake-id': id, ...(scenario ? { 'x-fake-scenario': scenario } : {}) },
});
const chatParams = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello' }] };

/** USD from the genai-prices rates of each snapshot (input, cache read, output per million). */
const COST = {
  gpt4oMini: (176 * 0.15 + 1024 * 0.075 + 40 * 0.6) / 1e6,
  o4Mini: (464 * 1.1 + 1536 * 0.275 + 900 * 4.4) / 1e6,
  gpt41Mini: (952 * 0.4 + 2048 * 0.1 + 120 * 1.6) / 1e6,
  embedding: (24 * 0.02) / 1e6,
};

async function collect<T>(stream: AsyncIterable<T>): Promise<string[]> {
  const items: string[] = [];
  for await (const item of stream) items.push(JSON.stringify(item));
  return items;
}

test('a chat completion is stored once with its cached tokens and cost, and the caller gets the same object', async () => {
  const { token, client, raw, tracked } = await setup('chat');
  const plain = await raw.chat.completions.create(chatParams, headers('chat-1'));
  const wrapped = await tracked.chat.completions.create(chatParams, headers('chat-1'));
  expect(JSON.stringify(wrapped)).toBe(JSON.stringify(plain));
  expect(wrapped._request_id).toBe(plain._request_id);
  const { data, response } = await tracked.chat.completions
    .create(chatParams, headers('chat-2'))
    .withResponse();
  expect(response.status).toBe(200);
  expect(data.id).toBe('chatcmpl-chat-2');
  await flushed(client);
  const rows = await rowsOf(token.id);
  expect(rows.map((r) => r.eventId).sort()).toEqual(['chatcmpl-chat-1', 'chatcmpl-chat-2']);
  expect(rows[0]).toMatchObject({
    model: 'gpt-4o-mini-2024-07-18',
    promptTokens: 1200,
    completionTokens: 40,
    cachedTokens: 1024,
    serviceTier: 'default',
    pricingStatus: 'priced',
  });
  expect(rows[0]?.estimatedCostUSD).toBeCloseTo(COST.gpt4oMini, 12);
  expect(client.stats()).toMatchObject({ delivered: 2, duplicates: 0, rejected: 0, dropped: 0, queued: 0 });
});

test('a reasoning model call keeps its reasoning tokens and its cost', async () => {
  const { token, client, tracked } = await setup('reasoning');
  await tracked.chat.completions.create({ ...chatParams, model: 'o4-mini' }, headers('reason-1'));
  await flushed(client);
  const [row] = await rowsOf(token.id);
  expect(row).toMatchObject({
    model: 'o4-mini-2025-04-16',
    promptTokens: 2000,
    cachedTokens: 1536,
    completionTokens: 900,
    reasoningTokens: 768,
  });
  expect(row?.estimatedCostUSD).toBeCloseTo(COST.o4Mini, 12);
});

test('a streamed chat completion asks for usage, hides the usage chunk, and is stored once', async () => {
  const { token, client, raw, tracked } = await setup('chat-stream');
  const plain = await collect(
    await raw.chat.completions.create({ ...chatParams, stream: true }, headers('s-1')),
  );
  const before = fake.requests.length;
  const wrapped = await collect(
    await tracked.chat.completions.create({ ...chatParams, stream: true }, headers('s-1')),
  );
  expect(wrapped).toEqual(plain);
  expect(plain.some((chunk) => chunk.includes('"usage"'))).toBe(false);
  expect(fake.requests[before]?.body?.stream_options).toEqual({ include_usage: true });
  const bytes = async (openai: OpenAI) =>
    new Response(
      (
        await openai.chat.completions.create({ ...chatParams, stream: true }, headers('s-1'))
      ).toReadableStream(),
    ).text();
  expect(await bytes(tracked)).toBe(await bytes(raw));
  await flushed(client);
  const rows = await rowsOf(token.id);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ eventId: 'chatcmpl-s-1', promptTokens: 1200, cachedTokens: 1024 });
  expect(rows[0]?.estimatedCostUSD).toBeCloseTo(COST.gpt4oMini, 12);
});

test('a stream whose caller asked for usage keeps its usage chunk, and the SDK stream helpers are tracked', async () => {
  const { token, client, raw, tracked } = await setup('chat-stream-usage');
  const params = { ...chatParams, stream: true as const, stream_options: { include_usage: true } };
  const plain = await collect(await raw.chat.completions.create(params, headers('u-1')));
  const wrapped = await collect(await tracked.chat.completions.create(params, headers('u-1')));
  expect(wrapped).toEqual(plain);
  expect(wrapped.at(-1)).toContain('"prompt_tokens":1200');
  const helper = tracked.chat.completions.stream(chatParams, headers('u-2'));
  const final = await helper.finalChatCompletion();
  expect(final.choices[0]?.message.content).toBe('Hello! How can I help?');
  await flushed(client);
  expect((await rowsOf(token.id)).map((r) => r.eventId).sort()).toEqual(['chatcmpl-u-1', 'chatcmpl-u-2']);
});

test('a stream cut before its usage chunk fails for the caller as unwrapped and stores nothing', async () => {
  const { token, client, raw, tracked } = await setup('cut');
  const failure = async (openai: OpenAI) => {
    const stream = await openai.chat.completions.create(
      { ...chatParams, stream: true },
      headers('cut-1', 'cut-before-usage'),
    );
    const seen: string[] = [];
    try {
      for await (const chunk of stream) seen.push(JSON.stringify(chunk));
      return { seen, error: 'none' };
    } catch (error) {
      return { seen, error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
    }
  };
  const plain = await failure(raw);
  const wrapped = await failure(tracked);
  expect(wrapped).toEqual(plain);
  expect(plain.error).not.toBe('none');
  await flushed(client);
  expect(await rowsOf(token.id)).toHaveLength(0);
  expect(client.stats().untracked).toBe(1);
});

test('a 429 from the provider reaches the caller unchanged and stores nothing; the next call is stored', async () => {
  const { token, client, raw, tracked } = await setup('rate-limited');
  const plain = await raw.chat.completions
    .create(chatParams, headers('rl-1', 'rate-limited'))
    .catch((e) => e);
  const wrapped = await tracked.chat.completions
    .create(chatParams, headers('rl-1', 'rate-limited'))
    .catch((e) => e);
  expect(wrapped).toBeInstanceOf(RateLimitError);
  expect(wrapped.status).toBe(429);
  expect(wrapped.message).toBe(plain.message);
  expect(wrapped.requestID).toBe(plain.requestID);
  await tracked.chat.completions.create(chatParams, headers('rl-2'));
  await flushed(client);
  expect((await rowsOf(token.id)).map((r) => r.eventId)).toEqual(['chatcmpl-rl-2']);
});

test('a Responses API call, plain and streamed, is stored once each from its final event', async () => {
  const { token, client, raw, tracked } = await setup('responses');
  const params = { model: 'gpt-4.1-mini', input: 'Say hello' };
  const plain = await raw.responses.create(params, headers('r-1'));
  const wrapped = await tracked.responses.create(params, headers('r-1'));
  expect(JSON.stringify(wrapped)).toBe(JSON.stringify(plain));
  expect(wrapped.output_text).toBe(plain.output_text);
  const plainEvents = await collect(await raw.responses.create({ ...params, stream: true }, headers('r-2')));
  const wrappedEvents = await collect(
    await tracked.responses.create({ ...params, stream: true }, headers('r-2')),
  );
  expect(wrappedEvents).toEqual(plainEvents);
  const cut = await collect(
    await tracked.responses.create({ ...params, stream: true }, headers('r-3', 'cut-before-usage')),
  ).catch((e: Error) => e);
  expect(cut).toBeInstanceOf(Error);
  await flushed(client);
  const rows = await rowsOf(token.id);
  expect(rows.map((r) => r.eventId).sort()).toEqual(['resp_r-1', 'resp_r-2']);
  for (const row of rows) {
    expect(row).toMatchObject({
      model: 'gpt-4.1-mini-2025-04-14',
      promptTokens: 3000,
      cachedTokens: 2048,
      completionTokens: 120,
    });
    expect(row.estimatedCostUSD).toBeCloseTo(COST.gpt41Mini, 12);
  }
});

test('embeddings are stored under their request id, and the caller gets the same decoded vectors', async () => {
  const { token, client, raw, tracked } = await setup('embeddings');
  const params = { model: 'text-embedding-3-small', input: 'hello' };
  const plain = await raw.embeddings.create(params, headers('e-1'));
  const wrapped = await tracked.embeddings.create(params, headers('e-1'));
  expect(JSON.stringify(wrapped)).toBe(JSON.stringify(plain));
  expect(Array.from(wrapped.data[0]?.embedding ?? [])).toEqual(Array.from(plain.data[0]?.embedding ?? []));
  await flushed(client);
  const rows = await rowsOf(token.id);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({
    eventId: plain._request_id,
    model: 'text-embedding-3-small',
    promptTokens: 24,
  });
  expect(rows[0]?.estimatedCostUSD).toBeCloseTo(COST.embedding, 14);
});

test('Batch API results read with files.content() are stored once per request at the batch price', async () => {
  const { token, client, raw, tracked } = await setup('batch');
  fake.files.set('file-out1', batchOutputFile(['chatcmpl-b1', 'chatcmpl-b2']));
  fake.files.set('file-other', 'just some text\nnot batch output\n');
  const plain = await (await raw.files.content('file-out1')).text();
  const wrapped = await (await tracked.files.content('file-out1')).text();
  expect(wrapped).toBe(plain);
  // Read twice (a retry, another worker): still stored once per request.
  await (await tracked.files.content('file-out1')).arrayBuffer();
  expect(await (await tracked.files.content('file-other')).text()).toBe('just some text\nnot batch output\n');
  await expect
    .poll(() => client.stats().queued + client.stats().delivered, { timeout: 20_000 })
    .toBeGreaterThanOrEqual(4);
  await flushed(client);
  const rows = await rowsOf(token.id);
  expect(rows.map((r) => r.eventId).sort()).toEqual(['chatcmpl-b1', 'chatcmpl-b2']);
  for (const row of rows) {
    expect(row.batch).toBe(true);
    expect(row.estimatedCostUSD).toBeCloseTo(COST.gpt4oMini / 2, 12);
  }
  expect(client.stats()).toMatchObject({ delivered: 2, duplicates: 2 });
});

test('user and tags come from the wrapper, then the async context, and track() takes its own', async () => {
  const { token, client, raw } = await setup('attribution');
  const tracked = client.wrapOpenAI(raw, { tags: { team: 'search' }, user: 'service' });
  await tracked.chat.completions.create(chatParams, headers('a-1'));
  await withAttribution({ user: 'u-42', tags: { feature: 'chat' } }, async () => {
    await Promise.resolve();
    await tracked.chat.completions.create(chatParams, headers('a-2'));
  });
  const response = await raw.chat.completions.create(chatParams, headers('a-3'));
  expect(client.track(response, { user: 'u-7', tags: { feature: 'manual', 'bad key!': 'x' } })).toBe(true);
  await flushed(client);
  const byId = Object.fromEntries((await rowsOf(token.id)).map((r) => [r.eventId, r]));
  expect(byId['chatcmpl-a-1']).toMatchObject({ user: 'service', tags: { team: 'search' } });
  expect(byId['chatcmpl-a-2']).toMatchObject({ user: 'u-42', tags: { team: 'search', feature: 'chat' } });
  expect(byId['chatcmpl-a-3']).toMatchObject({ user: 'u-7', tags: { feature: 'manual' } });
});

test('an Anthropic message, plain and streamed, is stored once with its cache reads and writes', async () => {
  const { default: Anthropic } = await import('@anthropic-ai/sdk');
  const { token, client } = await setup('anthropic');
  const raw = new Anthropic({ baseURL: fake.origin, apiKey: 'sk-ant-test', maxRetries: 0 });
  const tracked = client.wrapAnthropic(raw);
  const params = {
    model: 'claude-3-5-haiku',
    max_tokens: 256,
    messages: [{ role: 'user' as const, content: 'Hi' }],
  };
  const plain = await raw.messages.create(params, headers('m-1'));
  const wrapped = await tracked.messages.create(params, headers('m-1'));
  expect(JSON.stringify(wrapped)).toBe(JSON.stringify(plain));
  const plainEvents = await collect(await raw.messages.create({ ...params, stream: true }, headers('m-2')));
  const wrappedEvents = await collect(
    await tracked.messages.create({ ...params, stream: true }, headers('m-2')),
  );
  expect(wrappedEvents).toEqual(plainEvents);
  const final = await tracked.messages.stream(params, headers('m-3')).finalMessage();
  expect(final.usage.output_tokens).toBe(120);
  await expect(
    collect(await tracked.messages.create({ ...params, stream: true }, headers('m-4', 'cut-before-usage'))),
  ).rejects.toThrow();
  await flushed(client);
  const rows = await rowsOf(token.id);
  expect(rows.map((r) => r.eventId).sort()).toEqual(['msg_m-1', 'msg_m-2', 'msg_m-3']);
  for (const row of rows) {
    expect(row).toMatchObject({
      model: 'claude-3-5-haiku-20241022',
      promptTokens: 10_050,
      cachedTokens: 8000,
      completionTokens: 120,
      serviceTier: 'standard',
      pricingStatus: 'priced',
    });
    expect(row.estimatedCostUSD).toBeCloseTo((50 * 0.8 + 2000 * 1 + 8000 * 0.08 + 120 * 4) / 1e6, 12);
  }
  expect(client.stats().untracked).toBe(1);
});
