import type { PriceQuery, PriceResult, Pricer } from './types.js';

/**
 * A small built-in price table (USD per 1M tokens, standard tier) for the most used OpenAI models.
 * Unknown models are unpriced (null), never $0.
 */
interface Rates {
  input: number;
  /** Cached-input rate; undefined means cached tokens bill as plain input. */
  cached?: number;
  output: number;
}

interface Entry {
  ids: string[];
  /** Effective-dated rates, oldest first; each applies from its start (UTC ms) until the next. */
  periods: { fromMs: number; rates: Rates }[];
}

const ALWAYS = Number.NEGATIVE_INFINITY;

const TABLE: Entry[] = [
  {
    ids: ['gpt-4o-mini', 'gpt-4o-mini-2024-07-18'],
    periods: [{ fromMs: ALWAYS, rates: { input: 0.15, cached: 0.075, output: 0.6 } }],
  },
  {
    ids: ['gpt-4o', 'gpt-4o-2024-08-06', 'gpt-4o-2024-11-20'],
    periods: [{ fromMs: ALWAYS, rates: { input: 2.5, cached: 1.25, output: 10 } }],
  },
  { ids: ['gpt-4o-2024-05-13'], periods: [{ fromMs: ALWAYS, rates: { input: 5, output: 15 } }] },
  {
    ids: ['gpt-4.1', 'gpt-4.1-2025-04-14'],
    periods: [{ fromMs: ALWAYS, rates: { input: 2, cached: 0.5, output: 8 } }],
  },
  {
    ids: ['gpt-4.1-mini', 'gpt-4.1-mini-2025-04-14'],
    periods: [{ fromMs: ALWAYS, rates: { input: 0.4, cached: 0.1, output: 1.6 } }],
  },
  {
    ids: ['gpt-4.1-nano', 'gpt-4.1-nano-2025-04-14'],
    periods: [{ fromMs: ALWAYS, rates: { input: 0.1, cached: 0.025, output: 0.4 } }],
  },
  {
    ids: ['o3', 'o3-2025-04-16'],
    periods: [
      { fromMs: ALWAYS, rates: { input: 10, cached: 0.5, output: 40 } },
      { fromMs: Date.UTC(2025, 5, 10), rates: { input: 2, cached: 0.5, output: 8 } },
    ],
  },
  {
    ids: ['gpt-5', 'gpt-5-2025-08-07'],
    periods: [{ fromMs: ALWAYS, rates: { input: 1.25, cached: 0.125, output: 10 } }],
  },
  {
    ids: ['gpt-5-mini', 'gpt-5-mini-2025-08-07'],
    periods: [{ fromMs: ALWAYS, rates: { input: 0.25, cached: 0.025, output: 2 } }],
  },
  {
    ids: ['gpt-5-nano', 'gpt-5-nano-2025-08-07'],
    periods: [{ fromMs: ALWAYS, rates: { input: 0.05, cached: 0.005, output: 0.4 } }],
  },
];

const BY_ID = new Map<string, Entry>(TABLE.flatMap((entry) => entry.ids.map((id) => [id, entry] as const)));

/** Batch and flex bill at half the standard rate. */
const TIER_MULTIPLIER: Record<string, number> = { default: 1, auto: 1, flex: 0.5 };

/** $/1M tokens to nano-dollars per 1M tokens, as an exact integer (rates have at most 9 decimals). */
function nanoPerMillion(usdPerMillion: number): bigint {
  return BigInt(Math.round(usdPerMillion * 1e9));
}

export function createBuiltinPricer(): Pricer {
  return {
    price(query: PriceQuery): PriceResult {
      const entry = query.provider === 'openai' ? BY_ID.get(query.model.trim().toLowerCase()) : undefined;
      const tierMultiplier = TIER_MULTIPLIER[query.serviceTier ?? 'default'];
      if (!entry || tierMultiplier === undefined) {
        return { costNanoUsd: null, status: 'unpriced', source: null, rates: null };
      }
      let rates = entry.periods[0]?.rates as Rates;
      for (const period of entry.periods) if (query.atMs >= period.fromMs) rates = period.rates;
      const multiplier = tierMultiplier * (query.batch ? 0.5 : 1);
      const u = query.usage;
      const cached = rates.cached === undefined ? 0 : u.cachedTokens;
      const uncached = u.promptTokens - cached;
      // Sum in nano-dollars x 1e6 (exact integers), then divide once and round half to even.
      const scaled =
        BigInt(uncached) * nanoPerMillion(rates.input) +
        BigInt(cached) * nanoPerMillion(rates.cached ?? rates.input) +
        BigInt(u.completionTokens) * nanoPerMillion(rates.output);
      const cost = divideRoundHalfEven(scaled * BigInt(Math.round(multiplier * 1000)), 1_000_000_000n);
      return {
        costNanoUsd: Number(cost),
        status: 'priced',
        source: 'builtin@1',
        rates: { ...rates, unit: 'usd_per_mtok', multiplier },
      };
    },
  };
}

function divideRoundHalfEven(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const remainder = numerator % denominator;
  const twice = remainder * 2n;
  if (twice > denominator || (twice === denominator && quotient % 2n !== 0n)) return quotient + 1n;
  return quotient;
}
