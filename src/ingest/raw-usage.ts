import type { TokenCounts } from '../storage/store.js';

/**
 * Normalises a provider's raw `usage` object into our token buckets, in the OpenAI convention:
 * cached, cache-write and audio tokens are parts of prompt; reasoning and audio output are parts of
 * completion. Shapes (see ../shared/reference/pricing.md section 1):
 * - OpenAI Chat Completions, legacy Completions, embeddings: prompt_tokens, completion_tokens (absent for
 *   embeddings), prompt_tokens_details, completion_tokens_details
 * - OpenAI Responses: input_tokens (includes cached and cache writes), output_tokens (includes
 *   reasoning), input_tokens_details, output_tokens_details; Realtime names them input_token_details
 * - Anthropic Messages: input_tokens EXCLUDES cache reads and writes, so they are added back;
 *   cache_creation splits writes by TTL (5m / 1h); service_tier rides inside usage
 * - Gemini usageMetadata: candidatesTokenCount EXCLUDES thoughtsTokenCount, so output = candidates +
 *   thoughts; input = prompt + toolUsePrompt; cachedContentTokenCount is part of the prompt
 * The shape is told by its fields (or by the `api` hint), never by the provider alone: an
 * OpenAI-compatible endpoint of another provider still sends OpenAI's shape.
 */

export type UsageApi =
  | 'chat'
  | 'completions'
  | 'embeddings'
  | 'responses'
  | 'realtime'
  | 'anthropic'
  | 'gemini';
export const USAGE_APIS: readonly UsageApi[] = [
  'chat',
  'completions',
  'embeddings',
  'responses',
  'realtime',
  'anthropic',
  'gemini',
];

export type RawUsageResult =
  | {
      ok: true;
      counts: Partial<TokenCounts>;
      /** The provider the shape belongs to, when only one provider sends it. */
      provider?: 'anthropic' | 'google';
      /** A service tier reported inside usage (Anthropic). */
      serviceTier?: string;
    }
  | { ok: false; reason: string };

type Json = Record<string, unknown>;

class BadUsage extends Error {}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(source: Json | undefined, key: string, path: string): number | undefined {
  if (!source) return undefined;
  const value = source[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new BadUsage(`usage.${path}${key} must be a non-negative integer`);
  }
  return value;
}

function child(source: Json | undefined, key: string): Json | undefined {
  const value = source?.[key];
  return isObject(value) ? value : undefined;
}

function defined(counts: Partial<TokenCounts>): Partial<TokenCounts> {
  return Object.fromEntries(
    Object.entries(counts).filter(([, v]) => v !== undefined),
  ) as Partial<TokenCounts>;
}

/** OpenAI cache writes: a total plus (SDK 7.59) a TTL split; the 12-hour part is the dearer one. */
function openAiCacheWrites(details: Json | undefined, path: string): Partial<TokenCounts> {
  const total = count(details, 'cache_write_tokens', path);
  const split = child(details, 'cache_write_tokens_details');
  const splitPath = `${path}cache_write_tokens_details.`;
  const short = count(split, 'ttl_30m_tokens', splitPath);
  const extended = count(split, 'ttl_12h_tokens', splitPath);
  if (total === undefined && short === undefined && extended === undefined) return {};
  const writes = total ?? (short ?? 0) + (extended ?? 0);
  if ((short ?? 0) + (extended ?? 0) > writes) {
    throw new BadUsage(`usage.${splitPath}ttl_30m_tokens + ttl_12h_tokens cannot exceed cache_write_tokens`);
  }
  return {
    cacheWriteTokens: writes,
    ...(extended === undefined ? {} : { cacheWriteExtendedTokens: extended }),
  };
}

function anthropic(usage: Json): Partial<TokenCounts> {
  const uncached = count(usage, 'input_tokens', '') ?? 0;
  const split = child(usage, 'cache_creation');
  const shortWrites = count(split, 'ephemeral_5m_input_tokens', 'cache_creation.');
  const longWrites = count(split, 'ephemeral_1h_input_tokens', 'cache_creation.');
  const cacheWrite =
    count(usage, 'cache_creation_input_tokens', '') ?? (split ? (shortWrites ?? 0) + (longWrites ?? 0) : 0);
  if ((shortWrites ?? 0) + (longWrites ?? 0) > cacheWrite) {
    throw new BadUsage('usage.cache_creation TTL parts cannot exceed cache_creation_input_tokens');
  }
  const cacheRead = count(usage, 'cache_read_input_tokens', '') ?? 0;
  const output = count(usage, 'output_tokens', '') ?? 0;
  const prompt = uncached + cacheWrite + cacheRead;
  return {
    promptTokens: prompt,
    completionTokens: output,
    totalTokens: prompt + output,
    cachedTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    cacheWriteExtendedTokens: longWrites ?? 0,
  };
}

function modalityTokens(usage: Json, key: string, modality: string): number | undefined {
  const details = usage[key];
  if (details === undefined || details === null) return undefined;
  if (!Array.isArray(details)) throw new BadUsage(`usage.${key} must be a list`);
  let total: number | undefined;
  for (const item of details) {
    if (isObject(item) && item.modality === modality) {
      total = (total ?? 0) + (count(item, 'tokenCount', `${key}[].`) ?? 0);
    }
  }
  return total;
}

function gemini(usage: Json): Partial<TokenCounts> {
  const prompt =
    (count(usage, 'promptTokenCount', '') ?? 0) + (count(usage, 'toolUsePromptTokenCount', '') ?? 0);
  const thoughts = count(usage, 'thoughtsTokenCount', '') ?? 0;
  const completion = (count(usage, 'candidatesTokenCount', '') ?? 0) + thoughts;
  return defined({
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
    cachedTokens: count(usage, 'cachedContentTokenCount', '') ?? 0,
    reasoningTokens: thoughts,
    inputAudioTokens: modalityTokens(usage, 'promptTokensDetails', 'AUDIO'),
    outputAudioTokens: modalityTokens(usage, 'candidatesTokensDetails', 'AUDIO'),
  });
}

/** Responses API, and Realtime, which spells the details input_token_details / output_token_details. */
function openAiResponses(usage: Json): Partial<TokenCounts> {
  const inKey = 'input_tokens_details' in usage ? 'input_tokens_details' : 'input_token_details';
  const outKey = 'output_tokens_details' in usage ? 'output_tokens_details' : 'output_token_details';
  const inDetails = child(usage, inKey);
  const outDetails = child(usage, outKey);
  const prompt = count(usage, 'input_tokens', '') ?? 0;
  const completion = count(usage, 'output_tokens', '') ?? 0;
  return defined({
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
    cachedTokens: count(inDetails, 'cached_tokens', `${inKey}.`),
    ...openAiCacheWrites(inDetails, `${inKey}.`),
    reasoningTokens: count(outDetails, 'reasoning_tokens', `${outKey}.`),
    inputAudioTokens: count(inDetails, 'audio_tokens', `${inKey}.`),
    outputAudioTokens: count(outDetails, 'audio_tokens', `${outKey}.`),
  });
}

function openAiChat(usage: Json): Partial<TokenCounts> {
  const inDetails = child(usage, 'prompt_tokens_details');
  const outDetails = child(usage, 'completion_tokens_details');
  const prompt = count(usage, 'prompt_tokens', '') ?? 0;
  // Embeddings usage has no completion_tokens: an embedding has no output.
  const completion = count(usage, 'completion_tokens', '') ?? 0;
  return defined({
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
    cachedTokens: count(inDetails, 'cached_tokens', 'prompt_tokens_details.'),
    ...openAiCacheWrites(inDetails, 'prompt_tokens_details.'),
    reasoningTokens: count(outDetails, 'reasoning_tokens', 'completion_tokens_details.'),
    inputAudioTokens: count(inDetails, 'audio_tokens', 'prompt_tokens_details.'),
    outputAudioTokens: count(outDetails, 'audio_tokens', 'completion_tokens_details.'),
  });
}

const has = (usage: Json, ...keys: string[]) => keys.some((key) => key in usage);

function detectApi(provider: string, usage: Json): UsageApi | undefined {
  if (has(usage, 'promptTokenCount', 'candidatesTokenCount', 'totalTokenCount')) return 'gemini';
  if (has(usage, 'prompt_tokens', 'completion_tokens')) return 'chat';
  if (has(usage, 'cache_creation_input_tokens', 'cache_read_input_tokens', 'cache_creation'))
    return 'anthropic';
  if (has(usage, 'input_tokens', 'output_tokens'))
    return provider === 'anthropic' ? 'anthropic' : 'responses';
  return undefined;
}

/** The fields a shape must have, to refuse a hint that does not fit the object. */
const REQUIRED: Record<UsageApi, string[]> = {
  chat: ['prompt_tokens'],
  completions: ['prompt_tokens'],
  embeddings: ['prompt_tokens'],
  responses: ['input_tokens'],
  realtime: ['input_tokens'],
  anthropic: ['input_tokens'],
  gemini: ['promptTokenCount'],
};

/**
 * `provider` is the record's provider (explicit or default) and only breaks the one tie between
 * Anthropic and Responses shapes without cache fields; `api` forces a shape.
 */
export function countsFromRawUsage(provider: string, usage: Json, api?: UsageApi): RawUsageResult {
  const shape = api ?? detectApi(provider, usage);
  if (!shape) {
    return {
      ok: false,
      reason: 'usage is not a usage object this service recognises (OpenAI, Anthropic or Gemini)',
    };
  }
  const missing = REQUIRED[shape].filter((key) => !(key in usage));
  if (missing.length > 0) return { ok: false, reason: `usage has no ${missing.join(', ')} (api "${shape}")` };
  try {
    switch (shape) {
      case 'gemini':
        return { ok: true, counts: gemini(usage), provider: 'google' };
      case 'anthropic': {
        const tier = typeof usage.service_tier === 'string' ? usage.service_tier : undefined;
        return {
          ok: true,
          counts: anthropic(usage),
          provider: 'anthropic',
          ...(tier ? { serviceTier: tier } : {}),
        };
      }
      case 'responses':
      case 'realtime':
        return { ok: true, counts: openAiResponses(usage) };
      case 'embeddings': {
        const counts = openAiChat(usage);
        if ((counts.completionTokens ?? 0) > 0)
          return { ok: false, reason: 'embeddings usage has no completion tokens' };
        return { ok: true, counts };
      }
      default:
        return { ok: true, counts: openAiChat(usage) };
    }
  } catch (error) {
    if (error instanceof BadUsage) return { ok: false, reason: error.message };
    throw error;
  }
}
