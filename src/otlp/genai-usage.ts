import type { Attributes, AttributeValue, TraceSpan } from './trace-model.js';

/**
 * Turns one span with OpenTelemetry GenAI semantic-convention attributes into a usage record body
 * for the ingest pipeline (the same body POST /ingest takes, without the tracking token).
 *
 * Token buckets. Ours are OpenAI's (prompt includes cached and cache-write tokens; completion
 * includes reasoning), and so are the current conventions: gen_ai.usage.input_tokens SHOULD include
 * gen_ai.usage.cache_read.input_tokens and gen_ai.usage.cache_creation.input_tokens, and
 * gen_ai.usage.output_tokens SHOULD include gen_ai.usage.reasoning.output_tokens. Two popular
 * instrumentations put Anthropic's own usage.input_tokens there instead, which EXCLUDES cache reads
 * and writes (INPUT_EXCLUDES_CACHE lists them, with where that was read); for those the cache
 * tokens are added back. Whatever the instrumentation, cache tokens larger than the input prove
 * that the input excludes them, and reasoning larger than the output proves the output excludes it.
 *
 * Which spans count: a span with token usage whose operation is an inference (chat, text
 * completion, generate_content, embeddings, ...). Agent, workflow and tool spans are skipped: a
 * framework may put the sum of its children's usage on them, and counting both would count twice.
 */

export interface SpanContext {
  scopeName: string;
  scopeVersion: string;
  resource: Attributes;
}

/** A record body for IngestService.ingestBatch; `tracking_token` is added by the caller. */
export interface OtlpUsageBody {
  model: string;
  provider?: string;
  timestamp?: string;
  event_id?: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  service_tier?: string;
  tags?: Record<string, string>;
}

export type SpanVerdict =
  | { kind: 'ignored' }
  | { kind: 'usage'; body: OtlpUsageBody }
  | { kind: 'rejected'; reason: string };

/** Current name first, then the older names still emitted by popular instrumentations. */
const KEYS = {
  input: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.usage.prompt_tokens'],
  output: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.usage.completion_tokens'],
  cacheRead: [
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_read_input_tokens',
    'gen_ai.usage.prompt_tokens_details.cached_tokens',
    'gen_ai.usage.input_tokens.cached',
  ],
  cacheWrite: [
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens',
    'gen_ai.usage.prompt_tokens_details.cache_creation_tokens',
    'gen_ai.usage.input_tokens.cache_write',
  ],
  reasoning: [
    'gen_ai.usage.reasoning.output_tokens',
    'gen_ai.usage.reasoning_tokens',
    'gen_ai.usage.completion_tokens_details.reasoning_tokens',
    'llm.usage.reasoning_tokens',
    'gen_ai.usage.output_tokens.reasoning',
  ],
  model: ['gen_ai.response.model', 'gen_ai.request.model', 'llm.response.model', 'llm.request.model'],
  provider: ['gen_ai.provider.name', 'gen_ai.system'],
  operation: ['gen_ai.operation.name', 'llm.request.type'],
  serviceTier: ['openai.response.service_tier', 'gen_ai.openai.response.service_tier'],
} as const;

/** Operations that are not one call to a model (their usage, if any, sums other spans). */
const NOT_INFERENCE = new Set([
  'invoke_agent',
  'create_agent',
  'execute_tool',
  'invoke_workflow',
  'execute_task',
  'agent',
  'task',
  'workflow',
  'tool',
  'execution',
  'retrieval',
  'vectordb',
]);
/** OpenLLMetry's traceloop.span.kind values of spans that wrap LLM calls rather than make one. */
const WRAPPER_SPAN_KINDS = new Set(['workflow', 'task', 'agent', 'tool']);

/**
 * Instrumentations whose gen_ai.usage.input_tokens is Anthropic's usage.input_tokens, which excludes
 * cache reads and writes (the conventions say it should include them):
 * - @traceloop/instrumentation-anthropic (OpenLLMetry JS; read in 0.27.0: it sets input_tokens from
 *   usage.input_tokens and the two cache attributes beside it). OpenLLMetry's Python package sums
 *   them, as the conventions say, and needs no entry.
 * - OpenLIT's Python SDK, scope openlit.otel.tracing, for provider anthropic (its
 *   instrumentation/anthropic/utils.py says so in a comment and sets input_tokens unchanged).
 */
const INPUT_EXCLUDES_CACHE: readonly { scope: string; provider?: string }[] = [
  { scope: '@traceloop/instrumentation-anthropic' },
  { scope: 'openlit.otel.tracing', provider: 'anthropic' },
];

/** Semantic-convention provider names to the provider ids our prices use. */
const PROVIDERS: Readonly<Record<string, string>> = {
  'azure.ai.openai': 'azure',
  'az.ai.openai': 'azure',
  'azure.ai.inference': 'azure',
  'aws.bedrock': 'aws',
  'gcp.gemini': 'google',
  'gcp.vertex_ai': 'google',
  'gcp.gen_ai': 'google',
  vertex_ai: 'google',
  gemini: 'google',
  mistral_ai: 'mistral',
  mistralai: 'mistral',
  x_ai: 'x-ai',
  xai: 'x-ai',
};

export const TRACKING_TOKEN_ATTRIBUTE = 'cost_guardian.tracking_token';
const MAX_TAG_VALUE = 200;

function first(attributes: Attributes, keys: readonly string[]): AttributeValue | undefined {
  for (const key of keys) {
    const value = attributes.get(key);
    if (value !== undefined) return value;
  }
  return undefined;
}

function firstText(attributes: Attributes, keys: readonly string[]): string | undefined {
  const value = first(attributes, keys);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

class BadAttribute extends Error {}

/** A token count: a non-negative integer (an integral double too: some SDKs send every number so). */
function tokens(attributes: Attributes, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const value = attributes.get(key);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      throw new BadAttribute(`${key} must be a non-negative integer`);
    return value;
  }
  return undefined;
}

export function providerId(name: string): string {
  const id = name.trim().toLowerCase();
  return PROVIDERS[id] ?? id;
}

function inputExcludesCache(scopeName: string, provider: string | undefined): boolean {
  return INPUT_EXCLUDES_CACHE.some(
    (entry) => entry.scope === scopeName && (entry.provider === undefined || entry.provider === provider),
  );
}

export function usageFromSpan(span: TraceSpan, context: SpanContext): SpanVerdict {
  const attributes = span.attributes;
  if (!attributes) return { kind: 'ignored' };
  const operation = firstText(attributes, KEYS.operation)?.toLowerCase();
  if (operation !== undefined && NOT_INFERENCE.has(operation)) return { kind: 'ignored' };
  const spanKind = firstText(attributes, ['traceloop.span.kind'])?.toLowerCase();
  if (spanKind !== undefined && WRAPPER_SPAN_KINDS.has(spanKind)) return { kind: 'ignored' };

  let counts: {
    input?: number;
    output?: number;
    cacheRead?: number;
    cacheWrite?: number;
    reasoning?: number;
  };
  try {
    counts = {
      input: tokens(attributes, KEYS.input),
      output: tokens(attributes, KEYS.output),
      cacheRead: tokens(attributes, KEYS.cacheRead),
      cacheWrite: tokens(attributes, KEYS.cacheWrite),
      reasoning: tokens(attributes, KEYS.reasoning),
    };
  } catch (error) {
    if (error instanceof BadAttribute) return { kind: 'rejected', reason: error.message };
    throw error;
  }
  // A GenAI span without token usage (a failed call, a span of another kind) has nothing to bill.
  if (Object.values(counts).every((value) => value === undefined)) return { kind: 'ignored' };

  const model = firstText(attributes, KEYS.model);
  if (model === undefined)
    return {
      kind: 'rejected',
      reason: 'span has token usage but no gen_ai.response.model or gen_ai.request.model',
    };
  const providerName = firstText(attributes, KEYS.provider);
  const provider = providerName === undefined ? undefined : providerId(providerName);

  const input = counts.input ?? 0;
  const output = counts.output ?? 0;
  const cacheRead = counts.cacheRead ?? 0;
  const cacheWrite = counts.cacheWrite ?? 0;
  const reasoning = counts.reasoning ?? 0;
  const excludesCache = inputExcludesCache(context.scopeName, provider) || cacheRead + cacheWrite > input;
  const prompt = excludesCache ? input + cacheRead + cacheWrite : input;
  const completion = reasoning > output ? output + reasoning : output;

  const body: OtlpUsageBody = {
    model,
    prompt_tokens: prompt,
    completion_tokens: completion,
    cached_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    reasoning_tokens: reasoning,
  };
  if (provider) body.provider = provider;
  if (span.endTimeMs !== null) body.timestamp = new Date(span.endTimeMs).toISOString();
  // The response id is what the client wrappers send as event_id, so a call reported both ways is
  // stored once; without one, the span's own ids keep a resent export from counting twice.
  const responseId = firstText(attributes, ['gen_ai.response.id']);
  if (responseId) body.event_id = responseId;
  else if (span.traceId && span.spanId) body.event_id = `otlp:${span.traceId}:${span.spanId}`;
  const tier = firstText(attributes, KEYS.serviceTier);
  if (tier) body.service_tier = tier;
  const service = context.resource.get('service.name');
  if (typeof service === 'string' && service.trim() !== '')
    body.tags = { service: service.trim().slice(0, MAX_TAG_VALUE) };
  return { kind: 'usage', body };
}
