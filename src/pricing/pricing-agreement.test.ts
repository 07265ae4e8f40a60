import {
  type ConditionalPrice,
  calcPrice,
  findProvider,
  type MatchLogic,
  type ModelInfo,
} from '@pydantic/genai-prices';
import { expect, test } from 'vitest';
import { plainTokenCounts } from '../ingest/token-counts.js';
import type { TokenCounts } from '../storage/store.js';
import { compilePrice, computeCost } from './compute-cost.js';
import { ONE } from './exact-math.js';

/**
 * Our exact integer cost must agree with the package's own calcPrice (a float) for every OpenAI,
 * Anthropic and Google model it ships, at every dated price, for every usage shape we store: the
 * two may differ only by the final rounding to a nano-dollar. This is what lets us compute costs
 * ourselves (exactly, and fast) while the package stays the source of prices and their semantics.
 */

const USAGES: Record<string, Partial<TokenCounts>> = {
  plain: { promptTokens: 12_345, completionTokens: 678 },
  cached: { promptTokens: 20_000, cachedTokens: 7_777, completionTokens: 3_333 },
  'cache writes': {
    promptTokens: 50_000,
    cachedTokens: 1_000,
    cacheWriteTokens: 9_001,
    completionTokens: 11,
  },
  'extended cache writes': {
    promptTokens: 50_000,
    cacheWriteTokens: 9_001,
    cacheWriteExtendedTokens: 4_321,
    completionTokens: 11,
  },
  reasoning: { promptTokens: 999, completionTokens: 5_000, reasoningTokens: 4_500 },
  audio: { promptTokens: 3_000, inputAudioTokens: 1_200, completionTokens: 900, outputAudioTokens: 400 },
  'audio and cached': {
    promptTokens: 3_000,
    inputAudioTokens: 1_000,
    cachedTokens: 500,
    completionTokens: 10,
  },
  'long context': { promptTokens: 300_001, cachedTokens: 100_000, completionTokens: 2_000 },
  'one token': { promptTokens: 1, cachedTokens: 1 },
  empty: {},
};

/** A record's buckets: the given ones, zero elsewhere, total = prompt + completion. */
function counts(parts: Partial<TokenCounts>): TokenCounts {
  const all = { ...plainTokenCounts(0, 0), ...parts };
  return { ...all, totalTokens: all.promptTokens + all.completionTokens };
}

/** The same buckets in the package's usage keys. */
function packageUsage(c: TokenCounts) {
  return {
    input_tokens: c.promptTokens,
    cache_read_tokens: c.cachedTokens,
    cache_write_tokens: c.cacheWriteTokens,
    cache_write_1h_tokens: c.cacheWriteExtendedTokens,
    input_audio_tokens: c.inputAudioTokens,
    output_tokens: c.completionTokens,
    output_audio_tokens: c.outputAudioTokens,
    output_reasoning_tokens: c.reasoningTokens,
  };
}

/** A model id that the entry's own match rule accepts. */
function exampleId(match: MatchLogic): string | null {
  if ('equals' in match) return match.equals;
  if ('starts_with' in match) return `${match.starts_with}x`;
  if ('or' in match) {
    for (const inner of match.or) {
      const id = exampleId(inner);
      if (id) return id;
    }
  }
  if ('and' in match) return match.and.map(exampleId).find((id) => id !== null) ?? null;
  return null;
}

function datesOf(model: ModelInfo): Date[] {
  if (!Array.isArray(model.prices)) return [new Date(Date.UTC(2026, 0, 1))];
  const dates = [new Date(Date.UTC(2020, 0, 1))];
  for (const entry of model.prices as ConditionalPrice[]) {
    if (entry.constraint?.type === 'start_date')
      dates.push(new Date(`${entry.constraint.start_date}T00:00:00Z`));
  }
  return dates;
}

test('our exact cost equals the package’s calcPrice, to the nano-dollar, for every model, date and usage shape', () => {
  let compared = 0;
  let refusedByBoth = 0;
  const disagreements: string[] = [];
  for (const providerId of ['openai', 'anthropic', 'google']) {
    const provider = findProvider({ providerId });
    expect(provider, providerId).toBeDefined();
    for (const model of provider?.models ?? []) {
      const id = exampleId(model.match);
      if (!id) continue;
      for (const timestamp of datesOf(model)) {
        for (const [shape, parts] of Object.entries(USAGES)) {
          const usage = counts(parts);
          let expected: number | null;
          let modelPrice: Parameters<typeof compilePrice>[0];
          try {
            const result = calcPrice(packageUsage(usage), id, { providerId, timestamp });
            if (!result) continue;
            if (result.model.id !== model.id) continue;
            expected = result.total_price * 1e9;
            modelPrice = result.model_price;
          } catch {
            // The package refuses this usage for this model (an unknown overlap): so must we.
            const probe = calcPrice({ input_tokens: 0, output_tokens: 0 }, id, { providerId, timestamp });
            if (!probe) continue;
            const outcome = computeCost(compilePrice(probe.model_price), usage, ONE);
            if (outcome.ok) disagreements.push(`${providerId}/${id} ${shape}: package refuses, we priced`);
            refusedByBoth += 1;
            continue;
          }
          const outcome = computeCost(compilePrice(modelPrice), usage, ONE);
          const label = `${providerId}/${id} @${timestamp.toISOString().slice(0, 10)} ${shape}`;
          if (!outcome.ok) {
            // We refuse tokens the model has no rate for; the package bills them at 0.
            if (outcome.reason !== 'no_rate_for_tokens') disagreements.push(`${label}: ${outcome.reason}`);
            continue;
          }
          compared += 1;
          if (Math.abs(outcome.costNanoUsd - expected) > 0.5 + 1e-9 * expected) {
            disagreements.push(`${label}: ours ${outcome.costNanoUsd} nano, package ${expected}`);
          }
        }
      }
    }
  }
  expect(disagreements).toEqual([]);
  expect(compared).toBeGreaterThan(1000);
  expect(refusedByBoth).toBeGreaterThan(0);
});
