import { valueDeeperThan } from '../lib/json-depth.js';
import { usdToNano } from '../lib/money.js';
import { parseIsoTime } from '../lib/time.js';
import type { TokenCounts } from '../storage/store.js';
import { countsFromRawUsage, USAGE_APIS, type UsageApi } from './raw-usage.js';
import { type IngestRecordBody, TAG_KEY } from './record-schema.js';

/** A record after validation: one name per field, canonical types, times in UTC ms. */
export interface NormalisedRecord {
  trackingToken: string;
  provider: string;
  model: string;
  ts: number;
  eventId: string | null;
  counts: TokenCounts;
  serviceTier: string | null;
  batch: boolean;
  completionWindow: string | null;
  clientCostNanoUsd: number | null;
  meta: string | null;
  rawUsage: string | null;
  user: string | null;
  tags: Record<string, string> | null;
}

export type NormaliseResult = { ok: true; record: NormalisedRecord } | { ok: false; reason: string };

export interface NormaliseContext {
  defaultProvider: string;
  nowMs: number;
  /**
   * The provider (and the model to store) for a record that names no provider; without it, such a
   * record gets the default provider and its model as sent.
   */
  inferProvider?: (model: string) => { provider: string; model: string };
}

/** Client clocks drift; a call stamped further ahead than this is refused, not stored. */
export const MAX_FUTURE_SKEW_MS = 24 * 3_600_000;
/** Largest `meta` and `usage`, as stored JSON; no provider's usage object comes near it. */
export const MAX_FREE_FORM_BYTES = 8192;
/**
 * Deepest `meta` and `usage`. Checked before anything recursive (JSON.stringify) reads them: a
 * batch body skips the parser's depth check so that one deep record is refused alone.
 */
export const MAX_FREE_FORM_DEPTH = 32;

type Body = IngestRecordBody & Record<string, unknown>;

/** The snake_case name wins; a camelCase alias is used when the snake_case one is absent. */
function pick<T>(
  body: Body,
  snake: keyof IngestRecordBody,
  camel: keyof IngestRecordBody,
): { value?: T; conflict?: string } {
  const a = body[snake] as T | undefined;
  const b = body[camel] as T | undefined;
  if (a !== undefined && b !== undefined && a !== b) return { conflict: `${snake} and ${camel} disagree` };
  return { value: a ?? b };
}

/**
 * Turns a schema-valid body into a NormalisedRecord, or names why it cannot be stored.
 * Checks that a JSON schema cannot express: alias conflicts, timestamps, sums, parts within totals.
 */
export function normaliseRecord(body: Body, context: NormaliseContext): NormaliseResult {
  const fail = (reason: string): NormaliseResult => ({ ok: false, reason });

  const token = pick<string>(body, 'tracking_token', 'trackingToken');
  if (token.conflict) return fail(token.conflict);
  const trackingToken = token.value?.trim() ?? '';
  if (trackingToken === '') return fail('tracking_token is required');

  const sentModel = body.model.trim();
  if (sentModel === '') return fail('model is required');
  const explicitProvider = body.provider?.trim().toLowerCase() || undefined;
  // The client's provider always wins; without one, the model name says (pricing/infer-provider.ts).
  const inferred =
    explicitProvider === undefined && context.inferProvider ? context.inferProvider(sentModel) : undefined;
  let provider = explicitProvider ?? inferred?.provider ?? context.defaultProvider;
  let model = inferred?.model ?? sentModel;
  const api = body.api?.trim().toLowerCase() || undefined;
  if (api !== undefined && !(USAGE_APIS as readonly string[]).includes(api)) {
    return fail(`api must be one of ${USAGE_APIS.join(', ')} (got "${body.api}")`);
  }

  let ts = context.nowMs;
  if (body.timestamp !== undefined && body.timestamp.trim() !== '') {
    const parsed = parseIsoTime(body.timestamp);
    if (!parsed)
      return fail(
        `timestamp must be an ISO-8601 date-time like 2024-01-15T10:30:00Z (got "${body.timestamp}")`,
      );
    if (parsed.ms > context.nowMs + MAX_FUTURE_SKEW_MS)
      return fail('timestamp is more than 24 hours in the future');
    ts = parsed.ms;
  }

  const event = pick<string | number>(body, 'event_id', 'eventId');
  if (event.conflict) return fail(event.conflict);
  const eventId = event.value === undefined ? null : String(event.value).trim() || null;

  const fields = [
    ['prompt_tokens', 'promptTokens'],
    ['completion_tokens', 'completionTokens'],
    ['total_tokens', 'totalTokens'],
    ['cached_tokens', 'cachedTokens'],
    ['cache_write_tokens', 'cacheWriteTokens'],
    ['cache_write_extended_tokens', 'cacheWriteExtendedTokens'],
    ['reasoning_tokens', 'reasoningTokens'],
    ['input_audio_tokens', 'inputAudioTokens'],
    ['output_audio_tokens', 'outputAudioTokens'],
  ] as const;
  const sent: Partial<Record<(typeof fields)[number][0], number>> = {};
  for (const [snake, camel] of fields) {
    const field = pick<number>(body, snake, camel);
    if (field.conflict) return fail(field.conflict);
    if (field.value !== undefined) sent[snake] = field.value;
  }

  for (const field of ['meta', 'usage'] as const) {
    if (valueDeeperThan(body[field], MAX_FREE_FORM_DEPTH))
      return fail(`${field} is nested deeper than ${MAX_FREE_FORM_DEPTH} levels`);
  }
  let rawUsage: string | null = null;
  if (body.usage !== undefined) {
    rawUsage = JSON.stringify(body.usage);
    if (Buffer.byteLength(rawUsage) > MAX_FREE_FORM_BYTES)
      return fail(`usage must be at most ${MAX_FREE_FORM_BYTES} bytes of JSON`);
  }

  let fromUsage: Partial<TokenCounts> = {};
  let usageTier: string | undefined;
  if (body.usage !== undefined) {
    const extracted = countsFromRawUsage(provider, body.usage as Record<string, unknown>, api as UsageApi);
    if (!extracted.ok) return fail(extracted.reason);
    fromUsage = extracted.counts;
    usageTier = extracted.serviceTier;
    // A Gemini or Anthropic usage object names its provider when the record does not; it is the
    // stronger evidence, and a model prefix that named another provider is then kept as sent.
    if (explicitProvider === undefined && extracted.provider && extracted.provider !== provider) {
      provider = extracted.provider;
      model = sentModel;
    }
  }
  // Explicit fields win over the raw usage object only when they agree with it.
  const merged: Record<string, number> = {};
  const names: [keyof TokenCounts, (typeof fields)[number][0]][] = [
    ['promptTokens', 'prompt_tokens'],
    ['completionTokens', 'completion_tokens'],
    ['totalTokens', 'total_tokens'],
    ['cachedTokens', 'cached_tokens'],
    ['cacheWriteTokens', 'cache_write_tokens'],
    ['cacheWriteExtendedTokens', 'cache_write_extended_tokens'],
    ['reasoningTokens', 'reasoning_tokens'],
    ['inputAudioTokens', 'input_audio_tokens'],
    ['outputAudioTokens', 'output_audio_tokens'],
  ];
  for (const [key, wire] of names) {
    const explicit = sent[wire];
    const extracted = fromUsage[key];
    if (explicit !== undefined && extracted !== undefined && explicit !== extracted) {
      return fail(`${wire} (${explicit}) disagrees with usage (${extracted})`);
    }
    const value = explicit ?? extracted;
    if (value !== undefined) merged[key] = value;
  }

  const promptTokens = merged.promptTokens ?? 0;
  const completionTokens = merged.completionTokens ?? 0;
  const totalTokens = merged.totalTokens ?? promptTokens + completionTokens;
  if (totalTokens !== promptTokens + completionTokens) {
    return fail(
      `total_tokens (${totalTokens}) must equal prompt_tokens + completion_tokens (${promptTokens + completionTokens})`,
    );
  }
  const counts: TokenCounts = {
    promptTokens,
    completionTokens,
    totalTokens,
    cachedTokens: merged.cachedTokens ?? 0,
    cacheWriteTokens: merged.cacheWriteTokens ?? 0,
    cacheWriteExtendedTokens: merged.cacheWriteExtendedTokens ?? 0,
    reasoningTokens: merged.reasoningTokens ?? 0,
    inputAudioTokens: merged.inputAudioTokens ?? 0,
    outputAudioTokens: merged.outputAudioTokens ?? 0,
  };
  if (counts.cachedTokens + counts.cacheWriteTokens > promptTokens) {
    return fail('cached_tokens + cache_write_tokens cannot exceed prompt_tokens');
  }
  if (counts.cacheWriteExtendedTokens > counts.cacheWriteTokens) {
    return fail('cache_write_extended_tokens cannot exceed cache_write_tokens');
  }
  if (counts.inputAudioTokens > promptTokens) return fail('input_audio_tokens cannot exceed prompt_tokens');
  if (counts.reasoningTokens > completionTokens)
    return fail('reasoning_tokens cannot exceed completion_tokens');
  if (counts.outputAudioTokens > completionTokens)
    return fail('output_audio_tokens cannot exceed completion_tokens');

  const tier = pick<string>(body, 'service_tier', 'serviceTier');
  if (tier.conflict) return fail(tier.conflict);
  const serviceTier = tier.value?.trim().toLowerCase() || usageTier?.trim().toLowerCase() || null;
  if (
    tier.value !== undefined &&
    usageTier !== undefined &&
    tier.value.trim().toLowerCase() !== usageTier.toLowerCase()
  ) {
    return fail(`service_tier (${tier.value}) disagrees with usage.service_tier (${usageTier})`);
  }
  const window = pick<string>(body, 'completion_window', 'completionWindow');
  if (window.conflict) return fail(window.conflict);
  const cost = pick<number>(body, 'cost_usd', 'costUsd');
  if (cost.conflict) return fail(cost.conflict);

  let meta: string | null = null;
  if (body.meta !== undefined) {
    meta = JSON.stringify(body.meta);
    if (Buffer.byteLength(meta) > MAX_FREE_FORM_BYTES)
      return fail(`meta must be at most ${MAX_FREE_FORM_BYTES} bytes of JSON`);
  }

  let tags: Record<string, string> | null = null;
  if (body.tags !== undefined) {
    for (const key of Object.keys(body.tags)) {
      if (!TAG_KEY.test(key))
        return fail(`tags key "${key.slice(0, 80)}" must be 1-64 characters of A-Z a-z 0-9 _ . -`);
      // Assigning it to a plain object would set the prototype instead of a tag.
      if (key === '__proto__') return fail('tags key "__proto__" is reserved');
    }
    if (Object.keys(body.tags).length > 0) tags = { ...body.tags };
  }

  return {
    ok: true,
    record: {
      trackingToken,
      provider,
      model,
      ts,
      eventId,
      counts,
      serviceTier,
      batch: body.batch ?? false,
      completionWindow: window.value?.trim().toLowerCase() || null,
      clientCostNanoUsd: cost.value === undefined ? null : usdToNano(cost.value),
      meta,
      rawUsage,
      user: body.user?.trim() || null,
      tags,
    },
  };
}
