import type { ModelPrice } from '@pydantic/genai-prices';
import type { TokenCounts } from '../storage/store.js';
import { divideHalfEven, NANO_DIVISOR, type Ratio, scaleRate } from './exact-math.js';

/**
 * The cost of one call from one resolved price, exactly. This follows @pydantic/genai-prices'
 * unit model for the token buckets we store: every priced unit is billed on its "leaf" count (its
 * tokens minus those of its more specific priced units), so a cached token is billed once at the
 * cached rate and never again as input, and reasoning tokens stay inside output. A bucket whose
 * unit has no price stays in its parent (cache writes bill as input on models without a cache-write
 * price). pricing-agreement.test.ts checks this against the package's own calcPrice for every model.
 */

/** Price keys this engine bills (USD per million tokens, except requests_kcount per thousand requests). */
export const BILLED_PRICE_KEYS = [
  'input_mtok',
  'cache_read_mtok',
  'cache_write_mtok',
  'cache_write_1h_mtok',
  'input_audio_mtok',
  'cache_audio_read_mtok',
  'output_mtok',
  'output_audio_mtok',
  'output_reasoning_mtok',
  'requests_kcount',
] as const;
export type BilledPriceKey = (typeof BILLED_PRICE_KEYS)[number];

/**
 * Units that are the overlap of two of our buckets (e.g. cached audio). We do not record that
 * overlap, so when a model prices it and both parents are positive the split is unknown: the
 * package refuses such usage too, and we leave the call unpriced rather than guess.
 */
const JOINS: readonly { key: string; parents: readonly [keyof LeafInput, keyof LeafInput] }[] = [
  { key: 'cache_audio_read_mtok', parents: ['inputAudio', 'cached'] },
  { key: 'cache_audio_write_mtok', parents: ['inputAudio', 'cacheWrite'] },
  { key: 'cache_audio_write_1h_mtok', parents: ['inputAudio', 'cacheWriteExtended'] },
  { key: 'output_audio_reasoning_mtok', parents: ['outputAudio', 'reasoning'] },
];

interface CompiledRate {
  base: bigint;
  baseUsd: number;
  /** Ascending by start; a tier applies when the call's input tokens are greater than its start. */
  tiers: { start: number; rate: bigint; usd: number }[];
}

export interface CompiledPrice {
  readonly rates: ReadonlyMap<BilledPriceKey, CompiledRate>;
  /** Every price key the model has, billed here or not. */
  readonly keys: ReadonlySet<string>;
  /** Distinct tier starts, ascending: the input sizes at which some rate changes. */
  readonly tierStarts: readonly number[];
}

export function compilePrice(price: ModelPrice): CompiledPrice {
  const rates = new Map<BilledPriceKey, CompiledRate>();
  const starts = new Set<number>();
  for (const key of BILLED_PRICE_KEYS) {
    const value = price[key];
    if (value === undefined) continue;
    if (typeof value === 'number') {
      rates.set(key, { base: scaleRate(value), baseUsd: value, tiers: [] });
      continue;
    }
    const tiers = [...value.tiers]
      .sort((a, b) => a.start - b.start)
      .map((tier) => ({ start: tier.start, rate: scaleRate(tier.price), usd: tier.price }));
    for (const tier of tiers) starts.add(tier.start);
    rates.set(key, { base: scaleRate(value.base), baseUsd: value.base, tiers });
  }
  const keys = new Set(Object.keys(price).filter((key) => price[key] !== undefined));
  return { rates, keys, tierStarts: [...starts].sort((a, b) => a - b) };
}

/** How many tier starts the call's input exceeds: 0 is the base rate card. */
export function tierLevel(compiled: CompiledPrice, inputTokens: number): number {
  let level = 0;
  for (const start of compiled.tierStarts) if (inputTokens > start) level += 1;
  return level;
}

function rateAt(rate: CompiledRate, inputTokens: number): { scaled: bigint; usd: number } {
  let scaled = rate.base;
  let usd = rate.baseUsd;
  for (const tier of rate.tiers) {
    if (inputTokens > tier.start) {
      scaled = tier.rate;
      usd = tier.usd;
    }
  }
  return { scaled, usd };
}

/** The USD/M rates in force for a call of this input size, for provenance. */
export function ratesAt(
  compiled: CompiledPrice,
  inputTokens: number,
): Partial<Record<BilledPriceKey, number>> {
  const out: Partial<Record<BilledPriceKey, number>> = {};
  for (const [key, rate] of compiled.rates) out[key] = rateAt(rate, inputTokens).usd;
  return out;
}

interface LeafInput {
  input: number;
  cached: number;
  cacheWrite: number;
  cacheWriteExtended: number;
  inputAudio: number;
  output: number;
  outputAudio: number;
  reasoning: number;
}

export type CostOutcome =
  | { ok: true; costNanoUsd: number; level: number }
  | {
      ok: false;
      reason: 'no_rate_for_tokens' | 'usage_overlap_unknown' | 'inconsistent_usage';
      detail: string;
    };

/**
 * Cost in integer nano-dollars of `counts` at `compiled` rates times `multiplier`, rounded once,
 * half to even. Never returns 0 for tokens the model has no rate for: that is an outcome, not a price.
 */
export function computeCost(compiled: CompiledPrice, counts: TokenCounts, multiplier: Ratio): CostOutcome {
  const usage: LeafInput = {
    input: counts.promptTokens,
    cached: counts.cachedTokens,
    cacheWrite: counts.cacheWriteTokens,
    cacheWriteExtended: counts.cacheWriteExtendedTokens,
    inputAudio: counts.inputAudioTokens,
    output: counts.completionTokens,
    outputAudio: counts.outputAudioTokens,
    reasoning: counts.reasoningTokens,
  };
  for (const join of JOINS) {
    if (compiled.keys.has(join.key) && usage[join.parents[0]] > 0 && usage[join.parents[1]] > 0) {
      return {
        ok: false,
        reason: 'usage_overlap_unknown',
        detail: `${join.key} needs the overlap of ${join.parents[0]} and ${join.parents[1]}, which the usage does not give`,
      };
    }
  }
  const { rates } = compiled;
  const has = (key: BilledPriceKey) => rates.has(key);
  const leaves: [BilledPriceKey, number][] = [];

  const extended = has('cache_write_1h_mtok') ? usage.cacheWriteExtended : 0;
  const cacheWrite = has('cache_write_mtok') ? usage.cacheWrite - extended : 0;
  const cached = has('cache_read_mtok') ? usage.cached : 0;
  const inputAudio = has('input_audio_mtok') ? usage.inputAudio : 0;
  const input = usage.input - extended - cacheWrite - cached - inputAudio;
  leaves.push(
    ['cache_write_1h_mtok', extended],
    ['cache_write_mtok', cacheWrite],
    ['cache_read_mtok', cached],
    ['input_audio_mtok', inputAudio],
    ['input_mtok', input],
  );
  const outputAudio = has('output_audio_mtok') ? usage.outputAudio : 0;
  const reasoning = has('output_reasoning_mtok') ? usage.reasoning : 0;
  const output = usage.output - outputAudio - reasoning;
  leaves.push(
    ['output_audio_mtok', outputAudio],
    ['output_reasoning_mtok', reasoning],
    ['output_mtok', output],
  );

  if (input < 0 || output < 0 || cacheWrite < 0) {
    return {
      ok: false,
      reason: 'inconsistent_usage',
      detail: 'the usage parts add up to more than their totals under this model’s units',
    };
  }

  let sum = 0n;
  for (const [key, tokens] of leaves) {
    if (tokens === 0) continue;
    const rate = rates.get(key);
    if (!rate) {
      return {
        ok: false,
        reason: 'no_rate_for_tokens',
        detail: `the price has no ${key} for ${tokens} tokens`,
      };
    }
    sum += BigInt(tokens) * rateAt(rate, usage.input).scaled;
  }
  const perRequest = rates.get('requests_kcount');
  // requests_kcount is USD per thousand requests: one request is rate/1000 USD = 1000 x scaled / NANO_DIVISOR nano.
  if (perRequest) sum += 1000n * rateAt(perRequest, usage.input).scaled;

  const nano = divideHalfEven(sum * multiplier.num, NANO_DIVISOR * multiplier.den);
  if (nano > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { ok: false, reason: 'inconsistent_usage', detail: 'the cost does not fit a safe integer' };
  }
  return { ok: true, costNanoUsd: Number(nano), level: tierLevel(compiled, usage.input) };
}
