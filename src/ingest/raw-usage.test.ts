import { expect, test } from 'vitest';
import { countsFromRawUsage } from './raw-usage.js';

/** Realistic usage objects, as the providers' SDKs type them (pricing.md section 1). */

const chatCompletion = {
  prompt_tokens: 2000,
  completion_tokens: 500,
  total_tokens: 2500,
  prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 320,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

const responsesUsage = {
  input_tokens: 5000,
  input_tokens_details: {
    cached_tokens: 1000,
    cache_write_tokens: 3000,
    cache_write_tokens_details: { ttl_30m_tokens: 2000, ttl_12h_tokens: 1000 },
  },
  output_tokens: 800,
  output_tokens_details: { reasoning_tokens: 600 },
  total_tokens: 5800,
};

const anthropicMessage = {
  input_tokens: 400,
  cache_creation_input_tokens: 500,
  cache_read_input_tokens: 100,
  cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 200 },
  output_tokens: 10,
  service_tier: 'standard',
  server_tool_use: null,
};

const geminiUsageMetadata = {
  promptTokenCount: 1000,
  cachedContentTokenCount: 100,
  candidatesTokenCount: 5,
  thoughtsTokenCount: 5,
  toolUsePromptTokenCount: 20,
  totalTokenCount: 1030,
  promptTokensDetails: [
    { modality: 'TEXT', tokenCount: 900 },
    { modality: 'AUDIO', tokenCount: 100 },
  ],
  candidatesTokensDetails: [{ modality: 'TEXT', tokenCount: 5 }],
};

test('Chat Completions: cached is part of prompt, reasoning part of completion', () => {
  expect(countsFromRawUsage('openai', chatCompletion)).toEqual({
    ok: true,
    counts: {
      promptTokens: 2000,
      completionTokens: 500,
      totalTokens: 2500,
      cachedTokens: 1024,
      reasoningTokens: 320,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
    },
  });
});

test('embeddings usage has no completion tokens, and says so when the api hint claims embeddings', () => {
  expect(countsFromRawUsage('openai', { prompt_tokens: 8, total_tokens: 8 })).toEqual({
    ok: true,
    counts: { promptTokens: 8, completionTokens: 0, totalTokens: 8 },
  });
  expect(countsFromRawUsage('openai', { prompt_tokens: 8, total_tokens: 8 }, 'embeddings').ok).toBe(true);
  expect(countsFromRawUsage('openai', { prompt_tokens: 8, completion_tokens: 2 }, 'embeddings')).toEqual({
    ok: false,
    reason: 'embeddings usage has no completion tokens',
  });
});

test('Responses API: input/output naming, cache writes and their 12-hour part', () => {
  expect(countsFromRawUsage('openai', responsesUsage)).toEqual({
    ok: true,
    counts: {
      promptTokens: 5000,
      completionTokens: 800,
      totalTokens: 5800,
      cachedTokens: 1000,
      cacheWriteTokens: 3000,
      cacheWriteExtendedTokens: 1000,
      reasoningTokens: 600,
    },
  });
});

test('a TTL split without its total is summed; a split larger than its total is refused', () => {
  const splitOnly = countsFromRawUsage('openai', {
    prompt_tokens: 100,
    completion_tokens: 1,
    prompt_tokens_details: { cache_write_tokens_details: { ttl_30m_tokens: 10, ttl_12h_tokens: 5 } },
  });
  expect(splitOnly).toMatchObject({
    ok: true,
    counts: { cacheWriteTokens: 15, cacheWriteExtendedTokens: 5 },
  });
  const tooBig = countsFromRawUsage('openai', {
    input_tokens: 100,
    input_tokens_details: { cache_write_tokens: 4, cache_write_tokens_details: { ttl_12h_tokens: 5 } },
  });
  expect(tooBig).toEqual({
    ok: false,
    reason:
      'usage.input_tokens_details.cache_write_tokens_details.ttl_30m_tokens + ttl_12h_tokens cannot exceed cache_write_tokens',
  });
});

test('Realtime usage spells its details input_token_details', () => {
  const result = countsFromRawUsage(
    'openai',
    {
      input_tokens: 1200,
      output_tokens: 300,
      total_tokens: 1500,
      input_token_details: { cached_tokens: 0, text_tokens: 200, audio_tokens: 1000 },
      output_token_details: { text_tokens: 50, audio_tokens: 250 },
    },
    'realtime',
  );
  expect(result).toMatchObject({
    ok: true,
    counts: { promptTokens: 1200, inputAudioTokens: 1000, outputAudioTokens: 250 },
  });
});

test('Anthropic: input excludes cache reads and writes, so they are added back; 1-hour writes are the extended part', () => {
  expect(countsFromRawUsage('anthropic', anthropicMessage)).toEqual({
    ok: true,
    provider: 'anthropic',
    serviceTier: 'standard',
    counts: {
      promptTokens: 1000,
      completionTokens: 10,
      totalTokens: 1010,
      cachedTokens: 100,
      cacheWriteTokens: 500,
      cacheWriteExtendedTokens: 200,
    },
  });
  // Recognised by its cache fields even when the record's provider is the default.
  expect(countsFromRawUsage('openai', anthropicMessage)).toMatchObject({ ok: true, provider: 'anthropic' });
  // Without cache fields the provider decides between Anthropic and Responses (same names, same totals).
  expect(countsFromRawUsage('anthropic', { input_tokens: 5, output_tokens: 1 })).toMatchObject({
    provider: 'anthropic',
    counts: { promptTokens: 5 },
  });
  expect(
    countsFromRawUsage('anthropic', { input_tokens: 5, cache_creation: { ephemeral_1h_input_tokens: 3 } }),
  ).toMatchObject({ counts: { promptTokens: 8, cacheWriteTokens: 3, cacheWriteExtendedTokens: 3 } });
  expect(
    countsFromRawUsage('anthropic', {
      input_tokens: 5,
      cache_creation_input_tokens: 2,
      cache_creation: { ephemeral_1h_input_tokens: 3 },
    }),
  ).toEqual({
    ok: false,
    reason: 'usage.cache_creation TTL parts cannot exceed cache_creation_input_tokens',
  });
});

test('Gemini: output is candidates plus thoughts, input is prompt plus tool-use prompt, audio from the modality list', () => {
  expect(countsFromRawUsage('openai', geminiUsageMetadata)).toEqual({
    ok: true,
    provider: 'google',
    counts: {
      promptTokens: 1020,
      completionTokens: 10,
      totalTokens: 1030,
      cachedTokens: 100,
      reasoningTokens: 5,
      inputAudioTokens: 100,
    },
  });
  expect(countsFromRawUsage('google', { promptTokenCount: 1, promptTokensDetails: 'AUDIO' })).toEqual({
    ok: false,
    reason: 'usage.promptTokensDetails must be a list',
  });
});

test('an OpenAI-shaped usage from another provider is read as OpenAI’s shape, not as that provider’s', () => {
  expect(countsFromRawUsage('anthropic', { prompt_tokens: 10, completion_tokens: 2 })).toEqual({
    ok: true,
    counts: { promptTokens: 10, completionTokens: 2, totalTokens: 12 },
  });
});

test('an api hint that does not fit the object, an unknown object, or a bad count is refused with the field named', () => {
  expect(countsFromRawUsage('openai', { input_tokens: 5 }, 'chat')).toEqual({
    ok: false,
    reason: 'usage has no prompt_tokens (api "chat")',
  });
  expect(countsFromRawUsage('openai', { tokens: 5 })).toEqual({
    ok: false,
    reason: 'usage is not a usage object this service recognises (OpenAI, Anthropic or Gemini)',
  });
  expect(countsFromRawUsage('openai', { prompt_tokens: -1 })).toEqual({
    ok: false,
    reason: 'usage.prompt_tokens must be a non-negative integer',
  });
  expect(
    countsFromRawUsage('openai', { prompt_tokens: 3, prompt_tokens_details: { cached_tokens: 1.5 } }),
  ).toEqual({
    ok: false,
    reason: 'usage.prompt_tokens_details.cached_tokens must be a non-negative integer',
  });
});
