import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type OtlpUsageBody, usageFromSpan } from './genai-usage.js';
import { readTraceExport } from './read-trace-export.js';
import type { AttributeValue, TraceSpan } from './trace-model.js';

/**
 * Golden cases per exporter. The fixtures in test/fixtures/otlp/ are OTLP/JSON exports recorded
 * from the real instrumentation packages (see test/fixtures/otlp/README.md); the hand-built spans
 * below carry the attribute names each project publishes, cited per case.
 */

function fixture(name: string) {
  const request = JSON.parse(
    readFileSync(new URL(`../../test/fixtures/otlp/${name}`, import.meta.url), 'utf8'),
  );
  const usage: OtlpUsageBody[] = [];
  for (const resource of readTraceExport(request).resources)
    for (const scope of resource.scopes)
      for (const span of scope.spans) {
        const verdict = usageFromSpan(span, {
          scopeName: scope.name,
          scopeVersion: scope.version,
          resource: resource.attributes,
        });
        if (verdict.kind === 'usage') usage.push(verdict.body);
      }
  return usage;
}

function span(attributes: Record<string, AttributeValue>): TraceSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    name: 'chat',
    endTimeMs: Date.UTC(2026, 10, 28, 11, 59, 0),
    attributes: new Map(Object.entries(attributes)),
  };
}

const context = (scopeName: string, scopeVersion = '') => ({
  scopeName,
  scopeVersion,
  resource: new Map<string, AttributeValue>([['service.name', 'checkout-api']]),
});

const buckets = (body: OtlpUsageBody) => ({
  prompt: body.prompt_tokens,
  completion: body.completion_tokens,
  cached: body.cached_tokens,
  cacheWrite: body.cache_write_tokens,
  reasoning: body.reasoning_tokens,
});

describe('OpenLLMetry JS 0.27.0 (recorded)', () => {
  const [openai, anthropic] = fixture('openllmetry-js-0.27.0-openai-anthropic.json');

  test('an OpenAI chat call: input_tokens is prompt_tokens, cached tokens are not reported', () => {
    expect(openai).toMatchObject({
      model: 'gpt-4o-2024-08-06',
      provider: 'openai',
      event_id: 'chatcmpl-CacheHit0001',
      tags: { service: 'checkout-api' },
    });
    expect(buckets(openai as OtlpUsageBody)).toEqual({
      prompt: 2006,
      completion: 300,
      cached: 0,
      cacheWrite: 0,
      reasoning: 0,
    });
  });

  test('an Anthropic call: input_tokens excludes the cache, so reads and writes are added back', () => {
    // The provider answered input 21, cache writes 188, cache reads 1,800: 2,009 input tokens.
    expect(buckets(anthropic as OtlpUsageBody)).toEqual({
      prompt: 2009,
      completion: 300,
      cached: 1800,
      cacheWrite: 188,
      reasoning: 0,
    });
    expect(anthropic).toMatchObject({ model: 'claude-sonnet-4-5-20250929', provider: 'anthropic' });
  });

  test('a span without gen_ai.response.id is keyed by its trace and span ids', () => {
    expect(anthropic?.event_id).toMatch(/^otlp:[0-9a-f]{32}:[0-9a-f]{16}$/);
  });

  test('the call time is the span end time', () => {
    expect(anthropic?.timestamp).toBe('2026-12-06T04:33:30.929Z');
  });
});

describe('OpenTelemetry instrumentation-openai 0.21.0 (recorded)', () => {
  test('gen_ai.system names the provider; input_tokens is prompt_tokens', () => {
    const [call] = fixture('otel-instrumentation-openai-0.21.0-chat.json');
    expect(call).toMatchObject({
      model: 'gpt-4o-2024-08-06',
      provider: 'openai',
      event_id: 'chatcmpl-CacheHit0001',
    });
    expect(buckets(call as OtlpUsageBody)).toEqual({
      prompt: 2006,
      completion: 300,
      cached: 0,
      cacheWrite: 0,
      reasoning: 0,
    });
  });
});

describe('OpenLIT (Python), attribute names from its semcov/__init__.py and instrumentation utils.py', () => {
  test('an OpenAI call: input_tokens includes the 1,920 cached tokens; reasoning_tokens is OpenLIT’s name', () => {
    const verdict = usageFromSpan(
      span({
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'o4-mini',
        'gen_ai.response.model': 'o4-mini-2025-04-16',
        'gen_ai.response.id': 'chatcmpl-openlit-1',
        'gen_ai.usage.input_tokens': 2006,
        'gen_ai.usage.output_tokens': 900,
        'gen_ai.usage.reasoning_tokens': 640,
        'gen_ai.usage.cache_read.input_tokens': 1920,
        'gen_ai.usage.cache_creation.input_tokens': 0,
        'gen_ai.usage.cost': 0.0123,
      }),
      context('openlit.otel.tracing', '1.36.0'),
    );
    expect(verdict.kind === 'usage' && buckets(verdict.body)).toEqual({
      prompt: 2006,
      completion: 900,
      cached: 1920,
      cacheWrite: 0,
      reasoning: 640,
    });
  });

  test('an Anthropic call: input_tokens excludes the cache (OpenLIT says so), so it is added back', () => {
    const verdict = usageFromSpan(
      span({
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'anthropic',
        'gen_ai.request.model': 'claude-sonnet-4-5',
        'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
        'gen_ai.usage.input_tokens': 21,
        'gen_ai.usage.output_tokens': 300,
        'gen_ai.usage.cache_read.input_tokens': 100,
        'gen_ai.usage.cache_creation.input_tokens': 15,
      }),
      context('openlit.otel.tracing'),
    );
    expect(verdict.kind === 'usage' && buckets(verdict.body)).toEqual({
      prompt: 136,
      completion: 300,
      cached: 100,
      cacheWrite: 15,
      reasoning: 0,
    });
  });
});

describe('the conventions themselves', () => {
  test('input_tokens that includes the cache (as the conventions say) is not counted twice', () => {
    // OpenLLMetry Python 0.4x sums Anthropic's input, cache reads and writes into input_tokens.
    const verdict = usageFromSpan(
      span({
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.operation.name': 'chat',
        'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
        'gen_ai.usage.input_tokens': 2009,
        'gen_ai.usage.output_tokens': 300,
        'gen_ai.usage.cache_read.input_tokens': 1800,
        'gen_ai.usage.cache_creation.input_tokens': 188,
        'gen_ai.usage.reasoning.output_tokens': 120,
      }),
      context('opentelemetry.instrumentation.anthropic', '0.47.3'),
    );
    expect(verdict.kind === 'usage' && buckets(verdict.body)).toEqual({
      prompt: 2009,
      completion: 300,
      cached: 1800,
      cacheWrite: 188,
      reasoning: 120,
    });
  });

  test('cache tokens larger than the input prove the input excludes them, whoever sent it', () => {
    const verdict = usageFromSpan(
      span({
        'gen_ai.system': 'anthropic',
        'gen_ai.request.model': 'claude-3-5-haiku-20241022',
        'gen_ai.usage.input_tokens': 10,
        'gen_ai.usage.output_tokens': 5,
        'gen_ai.usage.cache_read_input_tokens': 500,
      }),
      context('some.other.instrumentation'),
    );
    expect(verdict.kind === 'usage' && verdict.body.prompt_tokens).toBe(510);
  });

  test('the older names: gen_ai.usage.prompt_tokens / completion_tokens, llm.request.type, a capitalised system', () => {
    const verdict = usageFromSpan(
      span({
        'gen_ai.system': 'OpenAI',
        'llm.request.type': 'chat',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.prompt_tokens': 120,
        'gen_ai.usage.completion_tokens': 30,
        'llm.usage.total_tokens': 150,
      }),
      context('opentelemetry.instrumentation.openai.v1', '0.33.0'),
    );
    expect(verdict).toMatchObject({
      kind: 'usage',
      body: { provider: 'openai', model: 'gpt-4o-mini', prompt_tokens: 120, completion_tokens: 30 },
    });
  });

  test('reasoning larger than the output proves the output excludes it', () => {
    const verdict = usageFromSpan(
      span({
        'gen_ai.provider.name': 'gcp.gemini',
        'gen_ai.request.model': 'gemini-2.5-flash',
        'gen_ai.usage.input_tokens': 40,
        'gen_ai.usage.output_tokens': 10,
        'gen_ai.usage.reasoning.output_tokens': 90,
      }),
      context('x'),
    );
    expect(verdict).toMatchObject({
      kind: 'usage',
      body: { provider: 'google', completion_tokens: 100, reasoning_tokens: 90 },
    });
  });

  test('provider names of the conventions map to price ids', () => {
    const provider = (name: string) => {
      const verdict = usageFromSpan(
        span({ 'gen_ai.provider.name': name, 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': 1 }),
        context('x'),
      );
      return verdict.kind === 'usage' ? verdict.body.provider : undefined;
    };
    expect(
      ['azure.ai.openai', 'aws.bedrock', 'gcp.vertex_ai', 'mistral_ai', 'x_ai', 'deepseek'].map(provider),
    ).toEqual(['azure', 'aws', 'google', 'mistral', 'x-ai', 'deepseek']);
  });
});

describe('which spans count', () => {
  test('a span with no GenAI attribute is ignored without reading its values', () => {
    const plain: TraceSpan = { traceId: 'a', spanId: 'b', name: 'GET /', endTimeMs: 1, attributes: null };
    expect(usageFromSpan(plain, context('http'))).toEqual({ kind: 'ignored' });
  });

  test('agent, workflow and tool spans are ignored even with usage: their children carry it', () => {
    const usage = { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 500 };
    expect(
      usageFromSpan(span({ ...usage, 'gen_ai.operation.name': 'invoke_agent' }), context('x')).kind,
    ).toBe('ignored');
    expect(usageFromSpan(span({ ...usage, 'traceloop.span.kind': 'workflow' }), context('x')).kind).toBe(
      'ignored',
    );
  });

  test('a GenAI span without token usage (a failed call) is ignored', () => {
    expect(
      usageFromSpan(span({ 'gen_ai.request.model': 'gpt-4o', 'error.type': '429' }), context('x')).kind,
    ).toBe('ignored');
  });

  test('usage without a model, and a token count that is not a count, are rejected with the reason', () => {
    expect(usageFromSpan(span({ 'gen_ai.usage.input_tokens': 5 }), context('x'))).toEqual({
      kind: 'rejected',
      reason: 'span has token usage but no gen_ai.response.model or gen_ai.request.model',
    });
    expect(
      usageFromSpan(
        span({ 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': -1 }),
        context('x'),
      ),
    ).toEqual({ kind: 'rejected', reason: 'gen_ai.usage.input_tokens must be a non-negative integer' });
    expect(
      usageFromSpan(
        span({ 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.output_tokens': '7' }),
        context('x'),
      ),
    ).toMatchObject({ kind: 'rejected' });
  });
});
