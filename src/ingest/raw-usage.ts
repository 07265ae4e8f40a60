import type { TokenCounts } from '../storage/store.js';

/**
 * Normalises a provider's raw `usage` object into our token buckets (OpenAI convention: cached and
 * cache-write tokens are parts of prompt; reasoning is part of completion). Shapes handled:
 * - OpenAI Chat Completions / embeddings: prompt_tokens, completion_tokens, *_details
 * - OpenAI Responses: input_tokens, output_tokens, *_details
 * - Anthropic Messages: input_tokens excludes cache reads and writes; we add them back
 * - Gemini usageMetadata: candidatesTokenCount excludes thoughtsTokenCount; we add them
 */
export type RawUsageResult = { ok: true; counts: Partial<TokenCounts> } | { ok: false; reason: string };

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

function child(source: Json, key: string): Json | undefined {
  const value = source[key];
  return isObject(value) ? value : undefined;
}

function defined(counts: Partial<TokenCounts>): Partial<TokenCounts> {
  return Object.fromEntries(
    Object.entries(counts).filter(([, v]) => v !== undefined),
  ) as Partial<TokenCounts>;
}

function anthropic(usage: Json): Partial<TokenCounts> {
  const uncached = count(usage, 'input_tokens', '') ?? 0;
  const cacheWrite = count(usage, 'cache_creation_input_tokens', '') ?? 0;
  const cacheRead = count(usage, 'cache_read_input_tokens', '') ?? 0;
  const output = count(usage, 'output_tokens', '') ?? 0;
  const prompt = uncached + cacheWrite + cacheRead;
  return {
    promptTokens: prompt,
    completionTokens: output,
    totalTokens: prompt + output,
    cachedTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
  };
}

function gemini(usage: Json): Partial<TokenCounts> {
  const prompt =
    (count(usage, 'promptTokenCount', '') ?? 0) + (count(usage, 'toolUsePromptTokenCount', '') ?? 0);
  const thoughts = count(usage, 'thoughtsTokenCount', '') ?? 0;
  const completion = (count(usage, 'candidatesTokenCount', '') ?? 0) + thoughts;
  let inputAudio: number | undefined;
  const details = usage.promptTokensDetails;
  if (Array.isArray(details)) {
    for (const item of details) {
      if (isObject(item) && item.modality === 'AUDIO')
        inputAudio = (inputAudio ?? 0) + (count(item, 'tokenCount', 'promptTokensDetails[].') ?? 0);
    }
  }
  return defined({
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
    cachedTokens: count(usage, 'cachedContentTokenCount', '') ?? 0,
    reasoningTokens: thoughts,
    inputAudioTokens: inputAudio,
  });
}

function openAiResponses(usage: Json): Partial<TokenCounts> {
  const inDetails = child(usage, 'input_tokens_details');
  const outDetails = child(usage, 'output_tokens_details');
  const prompt = count(usage, 'input_tokens', '') ?? 0;
  const completion = count(usage, 'output_tokens', '') ?? 0;
  return defined({
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
    cachedTokens: count(inDetails, 'cached_tokens', 'input_tokens_details.'),
    cacheWriteTokens: count(inDetails, 'cache_write_tokens', 'input_tokens_details.'),
    reasoningTokens: count(outDetails, 'reasoning_tokens', 'output_tokens_details.'),
    inputAudioTokens: count(inDetails, 'audio_tokens', 'input_tokens_details.'),
    outputAudioTokens: count(outDetails, 'audio_tokens', 'output_tokens_details.'),
  });
}

function openAiChat(usage: Json): Partial<TokenCounts> {
  const inDetails = child(usage, 'prompt_tokens_details');
  const outDetails = child(usage, 'completion_tokens_details');
  const prompt = count(usage, 'prompt_tokens', '') ?? 0;
  // Embeddings usage has no completion_tokens.
  const completion = count(usage, 'completion_tokens', '') ?? 0;
  return defined({
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
    cachedTokens: count(inDetails, 'cached_tokens', 'prompt_tokens_details.'),
    cacheWriteTokens: count(inDetails, 'cache_write_tokens', 'prompt_tokens_details.'),
    reasoningTokens: count(outDetails, 'reasoning_tokens', 'completion_tokens_details.'),
    inputAudioTokens: count(inDetails, 'audio_tokens', 'prompt_tokens_details.'),
    outputAudioTokens: count(outDetails, 'audio_tokens', 'completion_tokens_details.'),
  });
}

export function countsFromRawUsage(provider: string, usage: Json): RawUsageResult {
  try {
    if ('promptTokenCount' in usage || 'candidatesTokenCount' in usage)
      return { ok: true, counts: gemini(usage) };
    if (
      provider === 'anthropic' ||
      'cache_creation_input_tokens' in usage ||
      'cache_read_input_tokens' in usage
    ) {
      return { ok: true, counts: anthropic(usage) };
    }
    if ('input_tokens' in usage || 'output_tokens' in usage)
      return { ok: true, counts: openAiResponses(usage) };
    if ('prompt_tokens' in usage || 'completion_tokens' in usage)
      return { ok: true, counts: openAiChat(usage) };
    return {
      ok: false,
      reason: 'usage is not a usage object this service recognises (OpenAI, Anthropic or Gemini)',
    };
  } catch (error) {
    if (error instanceof BadUsage) return { ok: false, reason: error.message };
    throw error;
  }
}
