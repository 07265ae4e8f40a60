import { type Static, Type } from 'typebox';

/**
 * The wire shape of one usage record, as sent to POST /ingest and inside POST /ingest/batch.
 * Field names are the original's snake_case, with the camelCase aliases its clients use.
 * Unknown fields are ignored so that newer clients can send more than this build knows.
 */

const MAX_TOKENS = 10_000_000_000;
export const MAX_TAGS = 10;
export const MAX_TAG_VALUE_LENGTH = 200;
export const MAX_USER_LENGTH = 256;
export const TAG_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const tokenCount = (description: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_TOKENS, description }));

export const ServiceTier = Type.String({
  minLength: 1,
  maxLength: 32,
  description: 'Service tier the provider reports it served (default, flex, priority, fast, scale, ...).',
});

export const IngestRecordSchema = Type.Object(
  {
    tracking_token: Type.Optional(
      Type.String({ maxLength: 128, description: 'Tracking token (from POST /ingest/tokens).' }),
    ),
    trackingToken: Type.Optional(Type.String({ maxLength: 128, description: 'Alias of tracking_token.' })),
    model: Type.String({
      maxLength: 200,
      description: 'Model from the response body (the resolved snapshot).',
    }),
    provider: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'Provider id. Without it, the provider the model name belongs to (claude-* anthropic, gemini-* google, anthropic/... prefixes), else PROVIDER (openai).',
      }),
    ),
    timestamp: Type.Optional(
      Type.String({ maxLength: 64, description: 'When the call happened, ISO-8601. Default: receive time.' }),
    ),
    event_id: Type.Optional(
      Type.Union([Type.String({ maxLength: 256 }), Type.Integer({ minimum: 0 })], {
        description: 'Idempotency key, unique per tracking token (use the provider response id).',
      }),
    ),
    eventId: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Integer({ minimum: 0 })])),
    prompt_tokens: tokenCount('All input tokens, including cached and cache-write tokens.'),
    promptTokens: tokenCount('Alias of prompt_tokens.'),
    completion_tokens: tokenCount('All output tokens, including reasoning tokens.'),
    completionTokens: tokenCount('Alias of completion_tokens.'),
    total_tokens: tokenCount('Must equal prompt_tokens + completion_tokens when sent.'),
    totalTokens: tokenCount('Alias of total_tokens.'),
    cached_tokens: tokenCount('Part of prompt_tokens read from the prompt cache.'),
    cachedTokens: tokenCount('Alias of cached_tokens.'),
    cache_write_tokens: tokenCount('Part of prompt_tokens written to the prompt cache.'),
    cacheWriteTokens: tokenCount('Alias of cache_write_tokens.'),
    cache_write_extended_tokens: tokenCount(
      'Part of cache_write_tokens written with the longer retention (Anthropic 1 hour, OpenAI 12 hours).',
    ),
    cacheWriteExtendedTokens: tokenCount('Alias of cache_write_extended_tokens.'),
    reasoning_tokens: tokenCount('Part of completion_tokens spent on reasoning (not billed twice).'),
    reasoningTokens: tokenCount('Alias of reasoning_tokens.'),
    input_audio_tokens: tokenCount('Part of prompt_tokens that is audio.'),
    inputAudioTokens: tokenCount('Alias of input_audio_tokens.'),
    output_audio_tokens: tokenCount('Part of completion_tokens that is audio.'),
    outputAudioTokens: tokenCount('Alias of output_audio_tokens.'),
    service_tier: Type.Optional(ServiceTier),
    serviceTier: Type.Optional(ServiceTier),
    batch: Type.Optional(Type.Boolean({ description: 'True when the call ran through the Batch API.' })),
    completion_window: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 16,
        description: 'Background completion window (soonest, 2h, 8h).',
      }),
    ),
    completionWindow: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    api: Type.Optional(
      Type.String({
        maxLength: 32,
        description:
          'Which API produced `usage`: chat, completions, embeddings, responses, realtime, anthropic, gemini. Default: told by its fields.',
      }),
    ),
    usage: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description:
            "The provider's raw usage object, verbatim (at most 8 KiB of JSON, 32 levels deep); stored as sent.",
        },
      ),
    ),
    cost_usd: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1_000_000,
        description: "Client's own estimate; stored for comparison only.",
      }),
    ),
    costUsd: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
    meta: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description: 'Free-form metadata, stored as JSON (at most 8 KiB, 32 levels deep).',
        },
      ),
    ),
    user: Type.Optional(
      Type.String({
        maxLength: MAX_USER_LENGTH,
        description: 'Your end-user id, for attribution (filter and group by it in /usage/*).',
      }),
    ),
    tags: Type.Optional(
      Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: MAX_TAG_VALUE_LENGTH }), {
        maxProperties: MAX_TAGS,
        description: `Up to ${MAX_TAGS} tags for attribution, e.g. {"team":"search","feature":"chat"}. Keys: 1-64 of A-Z a-z 0-9 _ . - ; values: strings of 1-${MAX_TAG_VALUE_LENGTH} characters.`,
      }),
    ),
  },
  { additionalProperties: true },
);

export type IngestRecordBody = Static<typeof IngestRecordSchema>;

export const BATCH_MAX_RECORDS = 1000;

export const IngestBatchSchema = Type.Object({
  records: Type.Array(Type.Unknown(), {
    minItems: 1,
    maxItems: BATCH_MAX_RECORDS,
    description: `Up to ${BATCH_MAX_RECORDS} usage records, each shaped like the body of POST /ingest.`,
  }),
});
