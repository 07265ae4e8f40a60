import type { TokenCounts } from '../storage/store.js';

/**
 * The buckets of a record that only knows its prompt and completion totals (the original's
 * fields, /log, rows imported from the original): everything else is zero.
 */
export function plainTokenCounts(
  promptTokens: number,
  completionTokens: number,
  totalTokens?: number,
): TokenCounts {
  return {
    promptTokens,
    completionTokens,
    totalTokens: totalTokens ?? promptTokens + completionTokens,
    cachedTokens: 0,
    cacheWriteTokens: 0,
    cacheWriteExtendedTokens: 0,
    reasoningTokens: 0,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
  };
}
