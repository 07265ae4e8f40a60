import { expect, test } from 'vitest';
import { plainTokenCounts } from '../ingest/token-counts.js';
import type { TokenCounts } from '../storage/store.js';
import { compilePrice, computeCost, ratesAt, tierLevel } from './compute-cost.js';
import { ONE, parseRatio } from './exact-math.js';

/** The given buckets, zero elsewhere (the total too, unless given). */
const usage = (parts: Partial<TokenCounts>): TokenCounts => ({ ...plainTokenCounts(0, 0, 0), ...parts });

test('tiers apply above their start whatever order they are written in, and the level counts the starts passed', () => {
  const compiled = compilePrice({
    input_mtok: {
      base: 1,
      tiers: [
        { start: 200, price: 3 },
        { start: 100, price: 2 },
      ],
    },
    output_mtok: 10,
  });
  expect(compiled.tierStarts).toEqual([100, 200]);
  expect(tierLevel(compiled, 100)).toBe(0);
  expect(tierLevel(compiled, 101)).toBe(1);
  expect(tierLevel(compiled, 201)).toBe(2);
  expect(ratesAt(compiled, 150)).toEqual({ input_mtok: 2, output_mtok: 10 });
  expect(computeCost(compiled, usage({ promptTokens: 201, completionTokens: 1 }), ONE)).toEqual({
    ok: true,
    costNanoUsd: 613_000,
    level: 2,
  });
});

test('price keys this engine does not bill (tool calls, images) contribute nothing and are still known', () => {
  const compiled = compilePrice({
    input_mtok: 1,
    output_mtok: 2,
    web_searches_kcount: 10,
    input_image_mtok: 5,
  });
  expect(compiled.keys).toEqual(
    new Set(['input_mtok', 'output_mtok', 'web_searches_kcount', 'input_image_mtok']),
  );
  expect(computeCost(compiled, usage({ promptTokens: 1000, completionTokens: 1000 }), ONE)).toMatchObject({
    costNanoUsd: 3_000_000,
  });
});

test('a reasoning price, where a model has one, takes reasoning out of output', () => {
  const compiled = compilePrice({ input_mtok: 1, output_mtok: 2, output_reasoning_mtok: 3 });
  expect(computeCost(compiled, usage({ completionTokens: 1000, reasoningTokens: 400 }), ONE)).toMatchObject({
    costNanoUsd: (600 * 2 + 400 * 3) * 1000,
  });
});

test('the multiplier is applied to the exact sum, which is rounded once', () => {
  // 0.001 USD per million tokens is 1 nano-dollar per token.
  const compiled = compilePrice({ input_mtok: 0.001, output_mtok: 0.001 });
  // Half of 3 nano is 1.5, rounded once to 2 (rounding each token's 0.5 first would give 0).
  expect(computeCost(compiled, usage({ promptTokens: 3 }), parseRatio('0.5'))).toMatchObject({
    costNanoUsd: 2,
  });
  expect(computeCost(compiled, usage({ promptTokens: 1 }), parseRatio('0.5'))).toMatchObject({
    costNanoUsd: 0,
  });
  expect(computeCost(compiled, usage({ promptTokens: 3 }), parseRatio('5/3'))).toMatchObject({
    costNanoUsd: 5,
  });
});

test('a cost beyond a safe integer of nano-dollars is refused, not rounded', () => {
  const compiled = compilePrice({ input_mtok: 1_000_000, output_mtok: 1 });
  expect(computeCost(compiled, usage({ promptTokens: 10_000_000_000 }), ONE)).toMatchObject({
    ok: false,
    reason: 'inconsistent_usage',
  });
});
