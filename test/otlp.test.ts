import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createManualClock } from '../src/lib/clock.js';
import { loadOtlpRoot } from '../src/otlp/otlp-protobuf.js';
import { createTestApp, INGEST_KEY, T0, type TestContext } from './helpers.js';

/**
 * POST /v1/traces. The first tests send spans with the real OpenTelemetry JS SDK and both of its
 * OTLP/HTTP exporters to the service on a real port; the others send OTLP bodies directly, to see
 * the answers. Usage rows are read back through the store.
 */

let ctx: TestContext;
let token: string;
beforeEach(async () => {
  ctx = await createTestApp();
  token = (await ctx.createToken('otel-app')).token;
});
afterEach(async () => {
  await ctx.close();
});

const END_MS = T0 - 60_000;
const nanos = (ms: number) => `${BigInt(ms) * 1_000_000n}`;

async function otlpRows() {
  const page = await ctx.store.listUsage({}, { limit: 100 });
  return page.rows.filter((row) => row.source === 'otlp').sort((a, b) => a.model.localeCompare(b.model));
}

/** Spans the way an instrumented app makes them: two LLM calls and an HTTP request. */
async function exportWith(exporter: SpanExporter) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout-api' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const start = END_MS - 2000;
  const chat = provider.getTracer('@traceloop/instrumentation-openai', '0.27.0').startSpan('chat gpt-4o', {
    startTime: start,
    attributes: {
      'gen_ai.provider.name': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-sdk-1',
      'gen_ai.usage.input_tokens': 2006,
      'gen_ai.usage.output_tokens': 300,
      'gen_ai.usage.cache_read.input_tokens': 1920,
    },
  });
  chat.end(END_MS);
  const claude = provider
    .getTracer('@traceloop/instrumentation-anthropic', '0.27.0')
    .startSpan('chat claude', {
      startTime: start,
      attributes: {
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': 'claude-sonnet-4-5-20250929',
        'gen_ai.usage.input_tokens': 21,
        'gen_ai.usage.output_tokens': 300,
        'gen_ai.usage.cache_read.input_tokens': 1800,
        'gen_ai.usage.cache_creation.input_tokens': 188,
      },
    });
  claude.end(END_MS);
  provider
    .getTracer('@opentelemetry/instrumentation-http')
    .startSpan('GET /checkout', { startTime: start, attributes: { 'http.request.method': 'GET' } })
    .end(END_MS);
  await provider.forceFlush();
  await provider.shutdown();
}

describe('the OpenTelemetry JS SDK exporters', () => {
  let base: string;
  beforeEach(async () => {
    base = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  });
  const headers = () => ({ 'X-Ingest-Key': INGEST_KEY, 'X-Tracking-Token': token });

  test('the protobuf exporter, gzip-compressed: GenAI spans become priced usage rows, the HTTP span is ignored', async () => {
    await exportWith(
      new ProtoExporter({ url: `${base}/v1/traces`, headers: headers(), compression: 'gzip' as never }),
    );
    const rows = await otlpRows();
    expect(
      rows.map((r) => [r.model, r.provider, r.promptTokens, r.cachedTokens, r.cacheWriteTokens]),
    ).toEqual([
      ['claude-sonnet-4-5-20250929', 'anthropic', 2009, 1800, 188],
      ['gpt-4o-2024-08-06', 'openai', 2006, 1920, 0],
    ]);
    expect(
      rows.every((r) => r.tokenLabel === 'otel-app' && r.ts === END_MS && r.pricingStatus === 'priced'),
    ).toBe(true);
    expect(rows[1]?.eventId).toBe('chatcmpl-sdk-1');
    expect(rows[1]?.tags).toEqual({ service: 'checkout-api' });
  });

  test('the JSON exporter stores the same rows', async () => {
    await exportWith(new JsonExporter({ url: `${base}/v1/traces`, headers: headers() }));
    const rows = await otlpRows();
    expect(rows.map((r) => [r.model, r.promptTokens, r.completionTokens])).toEqual([
      ['claude-sonnet-4-5-20250929', 2009, 300],
      ['gpt-4o-2024-08-06', 2006, 300],
    ]);
  });

  test('an export sent twice (an exporter retry) is stored once', async () => {
    const exporter = () => new ProtoExporter({ url: `${base}/v1/traces`, headers: headers() });
    await exportWith(exporter());
    await exportWith(exporter());
    // The Anthropic span has no response id: its trace and span ids differ per run, as they would
    // for two real calls. The OpenAI span's response id is the same, as it is for one call resent.
    expect((await otlpRows()).filter((r) => r.eventId === 'chatcmpl-sdk-1')).toHaveLength(1);
  });
});

/** An OTLP/JSON body with one resource and one scope. */
function otlpJson(
  spans: Record<string, unknown>[],
  options: { resource?: Record<string, string>; scope?: string } = {},
) {
  const attribute = ([key, value]: [string, unknown]) => ({
    key,
    value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: String(value) },
  });
  return {
    resourceSpans: [
      {
        resource: {
          attributes: Object.entries({ 'service.name': 'svc', ...options.resource }).map(attribute),
        },
        scopeSpans: [
          {
            scope: { name: options.scope ?? 'test.instrumentation', version: '1.0.0' },
            spans: spans.map((attributes, i) => ({
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: `eee19b7ec3c1b17${i}`,
              name: 'chat',
              kind: 3,
              startTimeUnixNano: nanos(END_MS - 1000),
              endTimeUnixNano: nanos(END_MS),
              attributes: Object.entries(attributes).map(attribute),
            })),
          },
        ],
      },
    ],
  };
}

const call = (id: string, extra: Record<string, unknown> = {}) => ({
  'gen_ai.system': 'openai',
  'gen_ai.request.model': 'gpt-4o-mini',
  'gen_ai.response.id': id,
  'gen_ai.usage.input_tokens': 100,
  'gen_ai.usage.output_tokens': 20,
  ...extra,
});

function post(body: unknown, headers: Record<string, string> = {}, contentType = 'application/json') {
  return ctx.app.inject({
    method: 'POST',
    url: '/v1/traces',
    headers: {
      'content-type': contentType,
      'x-ingest-key': INGEST_KEY,
      'x-tracking-token': token,
      ...headers,
    },
    payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

describe('POST /v1/traces answers', () => {
  test('a full success is an empty ExportTraceServiceResponse', async () => {
    const response = await post(otlpJson([call('chatcmpl-a')]));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({});
  });

  test('rejected GenAI spans are counted in partialSuccess with their reasons; the rest is stored', async () => {
    const response = await post(
      otlpJson([
        call('chatcmpl-ok'),
        { 'gen_ai.usage.input_tokens': 5 },
        call('chatcmpl-neg', { 'gen_ai.usage.output_tokens': -3 }),
        { 'http.route': '/health' },
      ]),
    );
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      partialSuccess: {
        rejectedSpans: '2',
        errorMessage:
          '2 of 3 GenAI spans rejected: span has token usage but no gen_ai.response.model or gen_ai.request.model (1); gen_ai.usage.output_tokens must be a non-negative integer (1)',
      },
    });
    expect((await otlpRows()).map((r) => r.eventId)).toEqual(['chatcmpl-ok']);
  });

  test('an unknown tracking token rejects the spans through the ingest pipeline', async () => {
    const response = await post(otlpJson([call('chatcmpl-x')]), { 'x-tracking-token': 'no-such-token' });
    expect(response.json()).toEqual({
      partialSuccess: {
        rejectedSpans: '1',
        errorMessage: '1 of 1 GenAI spans rejected: unknown_token: Unknown tracking token (1)',
      },
    });
  });

  test('the cost_guardian.tracking_token resource attribute wins over the header', async () => {
    const other = await ctx.createToken('from-resource');
    await post(otlpJson([call('chatcmpl-r')], { resource: { 'cost_guardian.tracking_token': other.token } }));
    expect((await otlpRows()).map((r) => r.tokenLabel)).toEqual(['from-resource']);
  });

  test('protobuf in, protobuf out: with no tracking token anywhere the spans are rejected and the reason says how to send one', async () => {
    const root = loadOtlpRoot();
    const requestType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    const responseType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
    const body = Buffer.from(
      requestType.encode(requestType.fromObject(otlpJson([call('chatcmpl-p')]))).finish(),
    );
    const response = await post(body, { 'x-tracking-token': '' }, 'application/x-protobuf');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-protobuf');
    expect(responseType.toObject(responseType.decode(response.rawPayload), { longs: Number })).toEqual({
      partialSuccess: {
        rejectedSpans: 1,
        errorMessage:
          '1 of 1 GenAI spans rejected: no tracking token: send the X-Tracking-Token header or the cost_guardian.tracking_token resource attribute (1)',
      },
    });
  });

  test('a call pushed to /ingest and exported as a span with the same response id is stored once', async () => {
    const pushed = await ctx.ingest({
      tracking_token: token,
      model: 'gpt-4o-mini',
      event_id: 'chatcmpl-both',
      prompt_tokens: 100,
      completion_tokens: 20,
    });
    expect(pushed.statusCode).toBe(201);
    expect((await post(otlpJson([call('chatcmpl-both')]))).statusCode).toBe(200);
    const all = await ctx.store.listUsage({}, { limit: 10 });
    expect(all.rows.map((r) => [r.eventId, r.source])).toEqual([['chatcmpl-both', 'ingest']]);
  });

  test('spans without GenAI attributes are ignored: nothing stored, nothing rejected', async () => {
    const response = await post(otlpJson([{ 'http.request.method': 'GET' }, { 'db.system': 'sqlite' }]));
    expect(response.json()).toEqual({});
    expect(await otlpRows()).toEqual([]);
  });

  test('a gzip JSON body is read; another Content-Encoding is 415', async () => {
    const zipped = gzipSync(JSON.stringify(otlpJson([call('chatcmpl-z')])));
    expect((await post(zipped, { 'content-encoding': 'gzip' })).statusCode).toBe(200);
    expect((await otlpRows()).map((r) => r.eventId)).toEqual(['chatcmpl-z']);
    const br = await post(zipped, { 'content-encoding': 'br' });
    expect([br.statusCode, br.json().code]).toEqual([415, 'unsupported_media_type']);
  });

  test('BODY_LIMIT_BYTES bounds the decompressed body: a small gzip of a large body is 413', async () => {
    await ctx.close();
    ctx = await createTestApp({ BODY_LIMIT_BYTES: '65536' });
    token = (await ctx.createToken()).token;
    const bomb = gzipSync(Buffer.alloc(2_000_000, 0x20));
    expect(bomb.length).toBeLessThan(65536);
    const response = await post(bomb, { 'content-encoding': 'gzip' });
    expect([response.statusCode, response.json().code]).toEqual([413, 'payload_too_large']);
  });

  test('a body that is not OTLP protobuf is 400; a wrong ingest key is 401; JSON nested past the limit is 400', async () => {
    const garbage = await post(
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      {},
      'application/x-protobuf',
    );
    expect([garbage.statusCode, garbage.json().code]).toEqual([400, 'invalid_request']);
    const unauthorised = await post(otlpJson([]), { 'x-ingest-key': 'wrong' });
    expect(unauthorised.statusCode).toBe(401);
    const deep = await post(`{"resourceSpans":${'['.repeat(100)}${']'.repeat(100)}}`);
    expect([deep.statusCode, deep.json().code]).toEqual([400, 'invalid_request']);
  });

  test('spans the rate limit refused make a 429 with Retry-After; the resend stores each call once', async () => {
    await ctx.close();
    const clock = createManualClock(T0);
    ctx = await createTestApp({ INGEST_RPM: '60', INGEST_BURST: '3' }, { clock });
    token = (await ctx.createToken()).token;
    expect((await post(otlpJson([call('chatcmpl-0'), call('chatcmpl-00')]))).statusCode).toBe(200);
    // One token left in the bucket: one span is stored, two are refused.
    const body = otlpJson([call('chatcmpl-1'), call('chatcmpl-2'), call('chatcmpl-3')]);
    const refused = await post(body);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(3);
    clock.advance(Number(refused.headers['retry-after']) * 1000);
    const resent = await post(body);
    expect(resent.statusCode).toBe(200);
    expect((await otlpRows()).map((r) => r.eventId).sort()).toEqual([
      'chatcmpl-0',
      'chatcmpl-00',
      'chatcmpl-1',
      'chatcmpl-2',
      'chatcmpl-3',
    ]);
  });
});

describe('recorded instrumentation payloads over HTTP', () => {
  test('OpenLLMetry JS 0.27.0 spans are stored with the golden buckets', async () => {
    await ctx.close();
    ctx = await createTestApp({}, { clock: createManualClock(Date.UTC(2026, 11, 6, 5, 0, 0)) });
    token = (await ctx.createToken()).token;
    const body = readFileSync(
      new URL('./fixtures/otlp/openllmetry-js-0.27.0-openai-anthropic.json', import.meta.url),
    );
    expect((await post(body)).json()).toEqual({});
    expect(
      (await otlpRows()).map((r) => [r.model, r.promptTokens, r.cachedTokens, r.cacheWriteTokens]),
    ).toEqual([
      ['claude-sonnet-4-5-20250929', 2009, 1800, 188],
      ['gpt-4o-2024-08-06', 2006, 0, 0],
    ]);
  });
});
