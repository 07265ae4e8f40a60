import type { NewUsage } from '../store.js';

/** The usage_log columns a new row is written with, in the order of fillUsageValues. */
export const USAGE_COLUMNS = [
  'ts',
  'received_at',
  'source',
  'ingest_token_id',
  'event_id',
  'provider',
  'model',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cached_tokens',
  'cache_write_tokens',
  'cache_write_extended_tokens',
  'reasoning_tokens',
  'input_audio_tokens',
  'output_audio_tokens',
  'service_tier',
  'batch',
  'completion_window',
  'cost_nanousd',
  'pricing_status',
  'pricing_source',
  'pricing_rates_id',
  'client_cost_nanousd',
  'meta',
  'raw_usage',
  'end_user',
  'tags',
  'original_id',
] as const;

/**
 * Writes the record's values for USAGE_COLUMNS into `into` from `at` on, with `rateSetId` for its
 * pricingRates (RateSetIds.idFor). Statements are bound positionally: binding ~30 named parameters
 * from an object cost about as much as the insert itself (docs/adr/001-group-commit.md).
 */
export function fillUsageValues(
  into: unknown[],
  at: number,
  record: NewUsage,
  rateSetId: number | null,
): void {
  into[at] = record.ts;
  into[at + 1] = record.receivedAt;
  into[at + 2] = record.source;
  into[at + 3] = record.ingestTokenId;
  into[at + 4] = record.eventId;
  into[at + 5] = record.provider;
  into[at + 6] = record.model;
  into[at + 7] = record.promptTokens;
  into[at + 8] = record.completionTokens;
  into[at + 9] = record.totalTokens;
  into[at + 10] = record.cachedTokens;
  into[at + 11] = record.cacheWriteTokens;
  into[at + 12] = record.cacheWriteExtendedTokens;
  into[at + 13] = record.reasoningTokens;
  into[at + 14] = record.inputAudioTokens;
  into[at + 15] = record.outputAudioTokens;
  into[at + 16] = record.serviceTier;
  into[at + 17] = record.batch ? 1 : 0;
  into[at + 18] = record.completionWindow;
  into[at + 19] = record.costNanoUsd;
  into[at + 20] = record.pricingStatus;
  into[at + 21] = record.pricingSource;
  into[at + 22] = rateSetId;
  into[at + 23] = record.clientCostNanoUsd;
  into[at + 24] = record.meta;
  into[at + 25] = record.rawUsage;
  into[at + 26] = record.user ?? null;
  into[at + 27] = tagsToJson(record.tags);
  into[at + 28] = record.originalId ?? null;
}

/**
 * How the analytics columns of usage_log are stored: tags as a JSON object with sorted keys (so
 * equal maps are equal text), NULL when there are none.
 */
const tagsJson = new WeakMap<object, string | null>();

/** Kept per tag-set object: a client that reuses its tag objects pays for the text once. */
export function tagsToJson(tags: Readonly<Record<string, string>> | null | undefined): string | null {
  if (!tags) return null;
  let json = tagsJson.get(tags);
  if (json === undefined) {
    const keys = Object.keys(tags).sort();
    json = keys.length === 0 ? null : JSON.stringify(Object.fromEntries(keys.map((key) => [key, tags[key]])));
    tagsJson.set(tags, json);
  }
  return json;
}

/**
 * Rows repeat a few tag sets over and over (an app sends the same team/env/feature tags), so
 * parsed sets are shared: an export of a million rows parses each distinct set once. The objects
 * are frozen because they are shared; the cache is bounded.
 */
const parsedTags = new Map<string, Readonly<Record<string, string>>>();
const PARSED_TAGS_MAX = 10_000;

export function tagsFromJson(text: string | null): Readonly<Record<string, string>> | null {
  if (text === null) return null;
  let tags = parsedTags.get(text);
  if (!tags) {
    tags = Object.freeze(JSON.parse(text) as Record<string, string>);
    if (parsedTags.size >= PARSED_TAGS_MAX) parsedTags.clear();
    parsedTags.set(text, tags);
  }
  return tags;
}
