import { describe, expect, test } from 'vitest';
import { plainTokenCounts } from '../ingest/token-counts.js';
import type { TokenCounts } from '../storage/store.js';
import { OVERLAY_VERSION } from './overlay.js';
import { validateOverrides } from './price-overrides.js';
import { createPricingEngine, GENAI_PRICES_VERSION, type OverrideLayer, planTier } from './pricing-engine.js';
import type { PriceQuery } from './types.js';

/** Golden cases from ../shared/reference/pricing.md 4.5, through the pure engine. */

const NOW = Date.UTC(2026, 10, 28, 12);
const PACKAGE = `genai-prices@${GENAI_PRICES_VERSION}`;
const OVERLAY = `overlay@${OVERLAY_VERSION}`;

/** A record's buckets: the given ones, zero elsewhere, total = prompt + completion. */
function counts(parts: Partial<TokenCounts>): TokenCounts {
  const all = { ...plainTokenCounts(0, 0), ...parts };
  return { ...all, totalTokens: all.promptTokens + all.completionTokens };
}

function query(model: string, usage: Partial<TokenCounts>, extra: Partial<PriceQuery> = {}): PriceQuery {
  return {
    provider: 'openai',
    model,
    atMs: NOW,
    usage: counts(usage),
    serviceTier: null,
    batch: false,
    completionWindow: null,
    ...extra,
  };
}

const engine = createPricingEngine();
const price = (model: string, usage: Partial<TokenCounts>, extra: Partial<PriceQuery> = {}) =>
  engine.price(query(model, usage, extra));
const M = 1_000_000;

describe('standard prices from the package', () => {
  test('seed parity: gpt-4o-mini 1000 in / 500 out costs exactly $0.00045', () => {
    const result = price('gpt-4o-mini', { promptTokens: 1000, completionTokens: 500 });
    expect(result).toMatchObject({
      costNanoUsd: 450_000,
      status: 'priced',
      source: PACKAGE,
      tier: 'standard',
    });
    expect(result.rates).toMatchObject({
      model: 'gpt-4o-mini',
      input_mtok: 0.15,
      cache_read_mtok: 0.075,
      output_mtok: 0.6,
    });
    expect(price('gpt-4o-mini-2024-07-18', { promptTokens: 1000, completionTokens: 500 }).costNanoUsd).toBe(
      450_000,
    );
  });

  test('cached tokens are billed once, at the cached rate: 976 x 0.15 + 1024 x 0.075 + 500 x 0.60 = $0.0005232', () => {
    const result = price('gpt-4o-mini', { promptTokens: 2000, cachedTokens: 1024, completionTokens: 500 });
    expect(result.costNanoUsd).toBe(523_200);
  });

  test('reasoning tokens are part of completion and are not billed twice', () => {
    const without = price('o3', { promptTokens: 1000, completionTokens: 2000 });
    const withReasoning = price('o3', { promptTokens: 1000, completionTokens: 2000, reasoningTokens: 1500 });
    expect(without.costNanoUsd).toBe(18_000_000);
    expect(withReasoning.costNanoUsd).toBe(18_000_000);
  });

  test('gpt-4o-2024-05-13 costs its own (double) price, and has no cached rate', () => {
    expect(price('gpt-4o-2024-05-13', { promptTokens: M, completionTokens: M }).costNanoUsd).toBe(
      20_000_000_000,
    );
    expect(price('gpt-4o-2024-08-06', { promptTokens: M, completionTokens: M }).costNanoUsd).toBe(
      12_500_000_000,
    );
    // Without a cached rate, cached tokens are plain input.
    expect(price('gpt-4o-2024-05-13', { promptTokens: M, cachedTokens: M / 2 }).costNanoUsd).toBe(
      5_000_000_000,
    );
    expect(price('gpt-4o-2024-08-06', { promptTokens: M, cachedTokens: M / 2 }).costNanoUsd).toBe(
      1_875_000_000,
    );
  });

  test('o3 is priced by the rate in force at the call time: $50 before 2025-06-10 and $10 from it (1M in / 1M out)', () => {
    const before = price('o3', { promptTokens: M, completionTokens: M }, { atMs: Date.UTC(2025, 5, 10) - 1 });
    const after = price(
      'o3-2025-04-16',
      { promptTokens: M, completionTokens: M },
      { atMs: Date.UTC(2025, 5, 10) },
    );
    expect(before.costNanoUsd).toBe(50_000_000_000);
    expect(before.rates).toMatchObject({ effective_from: null });
    expect(after.costNanoUsd).toBe(10_000_000_000);
    expect(after.rates).toMatchObject({ effective_from: '2025-06-10' });
  });

  test('long context: gpt-5.4 above its threshold pays 2x input and 1.5x output on the whole call', () => {
    const long = price('gpt-5.4', { promptTokens: 300_000, completionTokens: 1000 });
    expect(long.costNanoUsd).toBe(1_522_500_000);
    expect(long.rates).toMatchObject({ long_context: true, input_mtok: 5, output_mtok: 22.5 });
    const short = price('gpt-5.4', { promptTokens: 200_000, completionTokens: 1000 });
    expect(short.costNanoUsd).toBe(515_000_000);
    expect(short.rates).toMatchObject({ long_context: false, input_mtok: 2.5 });
    // Fast mode doubles the context-adjusted rate.
    expect(
      price('gpt-5.4', { promptTokens: 300_000, completionTokens: 1000 }, { serviceTier: 'priority' })
        .costNanoUsd,
    ).toBe(3_045_000_000);
  });

  test('embeddings are priced on input alone', () => {
    expect(price('text-embedding-3-small', { promptTokens: 1000 }).costNanoUsd).toBe(20_000);
    expect(price('text-embedding-3-large', { promptTokens: M }).costNanoUsd).toBe(130_000_000);
  });

  test('cache writes bill at the cache-write rate where a model has one, and as input where it has not', () => {
    expect(
      price('gpt-6-sol', {
        promptTokens: 1000,
        cachedTokens: 100,
        cacheWriteTokens: 400,
        completionTokens: 100,
      }).costNanoUsd,
    ).toBe(3_020_000);
    expect(
      price('gpt-4o', { promptTokens: 1000, cachedTokens: 100, cacheWriteTokens: 400 }).costNanoUsd,
    ).toBe(2_375_000);
  });

  test('router prefixes (openai/, azure/) are stripped and ids are case-insensitive', () => {
    expect(price('openai/gpt-4o-mini', { promptTokens: 1000, completionTokens: 500 }).costNanoUsd).toBe(
      450_000,
    );
    expect(price('azure/GPT-4o-mini ', { promptTokens: 1000, completionTokens: 500 }).costNanoUsd).toBe(
      450_000,
    );
  });
});

describe('what the package cannot price stays unpriced, never $0', () => {
  test('an unknown model has a null cost and status unpriced', () => {
    const result = price('gpt-4.1-mini-2099-01-01', { promptTokens: 1000, completionTokens: 500 });
    expect(result).toMatchObject({
      costNanoUsd: null,
      status: 'unpriced',
      source: null,
      reason: 'unknown_model',
    });
    expect(price('', { promptTokens: 1 }).status).toBe('unpriced');
    expect(engine.price({ ...query('gpt-4o', { promptTokens: 1 }), provider: 'acme' }).status).toBe(
      'unpriced',
    );
  });

  test('a model priced per audio hour has no rate for tokens, so its tokens are unpriced', () => {
    const result = price('whisper-1', { promptTokens: 1000, completionTokens: 10 });
    expect(result).toMatchObject({ costNanoUsd: null, status: 'unpriced' });
    expect(result.reason).toMatch(/no_rate_for_tokens/);
  });

  test('an embedding model with completion tokens is unpriced rather than half-priced', () => {
    expect(price('text-embedding-3-small', { promptTokens: 1000, completionTokens: 10 }).status).toBe(
      'unpriced',
    );
  });

  test('audio and cached tokens together on a model that prices cached audio are unpriced (the overlap is unknown)', () => {
    const audioOnly = price('gpt-realtime', {
      promptTokens: 1000,
      inputAudioTokens: 400,
      completionTokens: 100,
      outputAudioTokens: 50,
    });
    // 600 x 4 + 400 x 32 + 50 x 16 + 50 x 64 = 19_200 micro-dollars
    expect(audioOnly.costNanoUsd).toBe(19_200_000);
    const both = price('gpt-realtime', { promptTokens: 1000, inputAudioTokens: 400, cachedTokens: 500 });
    expect(both).toMatchObject({ costNanoUsd: null, status: 'unpriced' });
    expect(both.reason).toMatch(/usage_overlap_unknown/);
  });
});

describe('service tiers (our overlay)', () => {
  test('batch halves every rate', () => {
    const result = price('gpt-4o-mini', { promptTokens: 1000, completionTokens: 500 }, { batch: true });
    expect(result).toMatchObject({ costNanoUsd: 225_000, status: 'priced', tier: 'batch', source: PACKAGE });
    expect(result.rates).toMatchObject({ multiplier: '1/2', tier_rule: OVERLAY });
  });

  test('a half nano-dollar rounds to the even neighbour', () => {
    // gpt-5-nano batch cached: 0.0025 USD/M = 2.5 nano per token.
    expect(price('gpt-5-nano', { promptTokens: 1, cachedTokens: 1 }, { batch: true }).costNanoUsd).toBe(2);
    expect(price('gpt-5-nano', { promptTokens: 3, cachedTokens: 3 }, { batch: true }).costNanoUsd).toBe(8);
  });

  test('priority (fast) uses the per-model rate card', () => {
    const gpt4o = price('gpt-4o', { promptTokens: M, completionTokens: M }, { serviceTier: 'priority' });
    expect(gpt4o).toMatchObject({ costNanoUsd: 21_250_000_000, status: 'priced', tier: 'priority' });
    expect(
      price('gpt-4o', { promptTokens: M, completionTokens: M }, { serviceTier: 'fast' }).costNanoUsd,
    ).toBe(21_250_000_000);
    // PP: gpt-4o-mini priority 0.25 / 1.00, o4-mini 2.00 / 8.00, gpt-5.5 2.5x.
    expect(
      price('gpt-4o-mini', { promptTokens: M, completionTokens: M }, { serviceTier: 'priority' }).costNanoUsd,
    ).toBe(1_250_000_000);
    expect(
      price('o4-mini', { promptTokens: M, completionTokens: M }, { serviceTier: 'priority' }).costNanoUsd,
    ).toBe(10_000_000_000);
    // Below gpt-5.5's long-context threshold: (0.5 + 3.0) x 2.5.
    expect(
      price('gpt-5.5', { promptTokens: M / 10, completionTokens: M / 10 }, { serviceTier: 'priority' })
        .costNanoUsd,
    ).toBe(8_750_000_000);
  });

  test('priority on a model without a card is estimated at the default 2x, and says so', () => {
    const result = price(
      'gpt-5.4-nano',
      { promptTokens: M, completionTokens: M },
      { serviceTier: 'priority' },
    );
    expect(result).toMatchObject({ costNanoUsd: 2_900_000_000, status: 'estimated', tier: 'priority' });
    expect(result.reason).toMatch(/no priority rate card for gpt-5.4-nano; default 2x/);
    expect(result.rates).toMatchObject({ estimated_because: result.reason });
  });

  test('flex bills at batch rates: priced where listed, estimated elsewhere', () => {
    expect(price('o3', { promptTokens: M, completionTokens: M }, { serviceTier: 'flex' })).toMatchObject({
      costNanoUsd: 5_000_000_000,
      status: 'priced',
      tier: 'flex',
    });
    expect(price('gpt-4.1', { promptTokens: M }, { serviceTier: 'flex' })).toMatchObject({
      costNanoUsd: 1_000_000_000,
      status: 'estimated',
    });
  });

  test('background completion windows: 2h is 30% off and 8h 40% off the standard price', () => {
    const usage = { promptTokens: M, completionTokens: M };
    expect(price('gpt-5', usage, { completionWindow: '2h' })).toMatchObject({
      costNanoUsd: 7_875_000_000,
      tier: 'background_2h',
      status: 'priced',
    });
    expect(price('gpt-5', usage, { completionWindow: '8h' }).costNanoUsd).toBe(6_750_000_000);
    expect(price('gpt-5', usage, { completionWindow: 'soonest' })).toMatchObject({
      costNanoUsd: 11_250_000_000,
      tier: 'standard',
    });
    expect(price('gpt-5', usage, { completionWindow: '3d' })).toMatchObject({
      costNanoUsd: 11_250_000_000,
      status: 'estimated',
    });
  });

  test('ultrafast follows its own dated schedule: 3x through 2027-02-28, 6x from March 2027', () => {
    const usage = { promptTokens: M / 10, completionTokens: M / 10 };
    expect(
      price('gpt-6.2-sol', usage, { serviceTier: 'ultrafast', atMs: Date.UTC(2027, 1, 28, 23) }).costNanoUsd,
    ).toBe(3_600_000_000);
    expect(
      price('gpt-6.2-sol', usage, { serviceTier: 'ultrafast', atMs: Date.UTC(2027, 2, 1) }).costNanoUsd,
    ).toBe(7_200_000_000);
    // Above 272K input the long-context rates apply first: (0.3M x 4 + 0.1M x 15) / 1M x 3.
    expect(
      price('gpt-6.2-sol', { promptTokens: 300_000, completionTokens: M / 10 }, { serviceTier: 'ultrafast' })
        .costNanoUsd,
    ).toBe(8_100_000_000);
  });

  test('scale and unknown tiers bill standard rates, marked estimated', () => {
    for (const tier of ['scale', 'turbo']) {
      const result = price(
        'gpt-4o-mini',
        { promptTokens: 1000, completionTokens: 500 },
        { serviceTier: tier },
      );
      expect(result).toMatchObject({ costNanoUsd: 450_000, status: 'estimated', tier });
    }
    expect(
      price('gpt-4o-mini', { promptTokens: 1000, completionTokens: 500 }, { serviceTier: 'default' }),
    ).toMatchObject({
      status: 'priced',
      tier: 'standard',
    });
  });

  test('a batch call ignores a contradicting tier or window but says the result is estimated', () => {
    expect(
      planTier('openai', 'gpt-4o', { serviceTier: 'priority', batch: true, completionWindow: null }, NOW),
    ).toMatchObject({
      tier: 'batch',
      status: 'estimated',
    });
    expect(
      planTier('openai', 'gpt-4o', { serviceTier: null, batch: true, completionWindow: '2h' }, NOW).reason,
    ).toMatch(/completion_window/);
    expect(
      planTier('acme', 'x', { serviceTier: null, batch: true, completionWindow: null }, NOW).status,
    ).toBe('estimated');
    expect(
      planTier('openai', 'gpt-4o', { serviceTier: 'priority', batch: false, completionWindow: '2h' }, NOW),
    ).toMatchObject({
      tier: 'priority',
      status: 'estimated',
    });
    expect(
      planTier('google', 'gemini-2.5-pro', { serviceTier: null, batch: false, completionWindow: '2h' }, NOW)
        .status,
    ).toBe('estimated');
  });
});

describe('other providers', () => {
  test('Anthropic: cache reads, 5-minute and 1-hour writes each at their own rate', () => {
    // 400 x 3 + 100 x 0.30 + 300 x 3.75 + 200 x 6 + 10 x 15 = 3_705 micro-dollars
    const usage = {
      promptTokens: 1000,
      cachedTokens: 100,
      cacheWriteTokens: 500,
      cacheWriteExtendedTokens: 200,
      completionTokens: 10,
    };
    const result = engine.price({ ...query('claude-sonnet-4-5-20250929', usage), provider: 'anthropic' });
    expect(result).toMatchObject({ costNanoUsd: 3_705_000, status: 'priced', source: PACKAGE });
    expect(
      engine.price({ ...query('claude-sonnet-4-5', usage), provider: 'anthropic', serviceTier: 'batch' })
        .costNanoUsd,
    ).toBe(1_852_500);
    expect(
      engine.price({ ...query('claude-sonnet-4-5', usage), provider: 'anthropic', serviceTier: 'priority' })
        .status,
    ).toBe('estimated');
  });

  test('Gemini: thoughts are output, cached content is part of the prompt; "gemini" names the google provider', () => {
    const usage = { promptTokens: 1000, cachedTokens: 100, completionTokens: 10, reasoningTokens: 5 };
    expect(engine.price({ ...query('gemini-2.5-flash', usage), provider: 'google' }).costNanoUsd).toBe(
      298_000,
    );
    expect(engine.price({ ...query('gemini-2.5-flash', usage), provider: 'gemini' }).costNanoUsd).toBe(
      298_000,
    );
  });

  test('time-of-day prices (DeepSeek off-peak) are resolved per call, not cached per day', () => {
    const usage = { promptTokens: M, completionTokens: M };
    const peak = engine.price({
      ...query('deepseek-chat', usage),
      provider: 'deepseek',
      atMs: Date.UTC(2026, 0, 5, 10),
    });
    const offPeak = engine.price({
      ...query('deepseek-chat', usage),
      provider: 'deepseek',
      atMs: Date.UTC(2026, 0, 5, 18),
    });
    expect(peak.costNanoUsd).toBe(1_370_000_000);
    expect(offPeak.costNanoUsd).toBe(685_000_000);
  });
});

describe('our overlay and user overrides', () => {
  test('models newer than the package are priced from the overlay, snapshots included', () => {
    const result = price('gpt-6.2-sol-2026-11-01', {
      promptTokens: 1000,
      cacheWriteTokens: 300,
      cacheWriteExtendedTokens: 100,
      completionTokens: 500,
    });
    // 700 x 2 + 200 x 2.50 (30-minute write) + 100 x 5.00 (12-hour write) + 500 x 10
    expect(result).toMatchObject({ costNanoUsd: 7_400_000, status: 'priced', source: OVERLAY });
    expect(price('gpt-6.1-sol', { promptTokens: M / 10, cachedTokens: M / 10 }).costNanoUsd).toBe(10_000_000);
  });

  test('the overlay adds the cached rate the package lacks for fine-tuned gpt-4o-mini', () => {
    const result = price('ft:gpt-4o-mini-2024-07-18:acme::abc123', {
      promptTokens: M,
      cachedTokens: M / 2,
      completionTokens: M,
    });
    expect(result).toMatchObject({ costNanoUsd: 1_425_000_000, source: OVERLAY });
  });

  // Every base OpenAI lists with a fine-tuned inference price (docs/pricing.md, "Fine-tuned
  // models"), 1M prompt tokens of which 400K cached, 100K completion tokens.
  const fineTuned: [model: string, costNanoUsd: number, source: string][] = [
    // 600K x 3 + 400K x 0.75 + 100K x 12
    ['ft:gpt-4.1-2025-04-14:acme:support:AbC123', 3_300_000_000, OVERLAY],
    ['ft:gpt-4.1-mini-2025-04-14:acme::B2', 880_000_000, OVERLAY],
    ['ft:gpt-4.1-nano-2025-04-14:acme::C3', 220_000_000, OVERLAY],
    ['ft:o4-mini-2025-04-16:acme:grader:D4', 4_400_000_000, OVERLAY],
    ['ft:gpt-4o-2024-08-06:acme::E5', 4_500_000_000, OVERLAY],
    ['ft:gpt-4o-mini-2024-07-18:acme::F6', 360_000_000, OVERLAY],
    // No cached rate: cached tokens are billed as input.
    ['ft:gpt-3.5-turbo-0125:acme::G7', 3_600_000_000, PACKAGE],
    ['ft:gpt-4-0613:acme::H8', 36_000_000_000, PACKAGE],
    ['ft:davinci-002:acme::I9', 13_200_000_000, OVERLAY],
    ['ft:babbage-002:acme::J0', 1_760_000_000, OVERLAY],
  ];
  for (const [model, costNanoUsd, source] of fineTuned) {
    test(`fine-tuned ${model.split(':')[1]} is priced at its fine-tuned rates`, () => {
      const result = price(model, { promptTokens: M, cachedTokens: (4 * M) / 10, completionTokens: M / 10 });
      expect(result).toMatchObject({ costNanoUsd, status: 'priced', source });
    });
  }

  test('a fine-tune of an unlisted base stays unpriced, never priced as its base', () => {
    expect(price('ft:gpt-5-2025-08-07:acme::x', { promptTokens: M })).toMatchObject({
      costNanoUsd: null,
      status: 'unpriced',
    });
  });

  function layer(name: string, version: string, document: unknown): OverrideLayer {
    const checked = validateOverrides(document);
    if (!checked.ok) throw new Error(checked.errors.join('; '));
    return { name, version, document: checked.document };
  }

  const fileLayer = layer('override-file', 'sha256:abc', {
    openai: [
      { id: 'gpt-4o-mini', prices: { input_mtok: 0.2, output_mtok: 0.8 } },
      { id: 'gpt-4o', prices: { input_mtok: 1, output_mtok: 2 } },
    ],
    acme: [
      {
        id: 'acme-large',
        match: { starts_with: 'acme-large' },
        prices: { input_mtok: 1, output_mtok: 3, requests_kcount: 5 },
      },
    ],
  });
  const dbLayer = layer('override-db', 'v7', {
    openai: [
      {
        id: 'gpt-4o-mini',
        prices: [
          { prices: { input_mtok: 0.1, output_mtok: 0.4 } },
          {
            constraint: { type: 'start_date', start_date: '2027-01-01' },
            prices: { input_mtok: 0.3, output_mtok: 1.2 },
          },
        ],
      },
    ],
  });
  const overridden = createPricingEngine({ overrides: [dbLayer, fileLayer] });

  test('override precedence: database over file over overlay over package, per model', () => {
    const usage = { promptTokens: M, completionTokens: M };
    expect(overridden.sources).toEqual(['override-db@v7', 'override-file@sha256:abc', OVERLAY, PACKAGE]);
    expect(overridden.price(query('gpt-4o-mini', usage))).toMatchObject({
      costNanoUsd: 500_000_000,
      source: 'override-db@v7',
    });
    expect(overridden.price(query('gpt-4o', usage))).toMatchObject({
      costNanoUsd: 3_000_000_000,
      source: 'override-file@sha256:abc',
    });
    // The file's gpt-4o entry matches "gpt-4o" only: its snapshot still comes from the package.
    expect(overridden.price(query('gpt-4o-2024-05-13', usage))).toMatchObject({
      costNanoUsd: 20_000_000_000,
      source: PACKAGE,
    });
    expect(overridden.price(query('gpt-6.1-sol', usage)).source).toBe(OVERLAY);
  });

  test('an override is effective-dated, and tier multipliers still apply to it', () => {
    const usage = { promptTokens: M, completionTokens: M };
    expect(overridden.price(query('gpt-4o-mini', usage, { atMs: Date.UTC(2027, 0, 1) })).costNanoUsd).toBe(
      1_500_000_000,
    );
    expect(overridden.price(query('gpt-4o-mini', usage, { batch: true })).costNanoUsd).toBe(250_000_000);
  });

  test('an override can price a provider no source knows, per-request fees included', () => {
    const result = overridden.price({
      ...query('acme-large-2', { promptTokens: M, completionTokens: M }),
      provider: 'acme',
    });
    expect(result).toMatchObject({
      costNanoUsd: 4_005_000_000,
      status: 'priced',
      source: 'override-file@sha256:abc',
    });
  });

  test('usage that does not fit the model’s units is unpriced, not an exception', () => {
    const odd = createPricingEngine({
      overrides: [
        layer('override-db', 'v1', {
          openai: [{ id: 'odd', prices: { input_mtok: 1, cache_read_mtok: 0.1, cache_write_mtok: 2 } }],
        }),
      ],
    });
    const result = odd.price(query('odd', { promptTokens: 100, cachedTokens: 60, cacheWriteTokens: 60 }));
    expect(result).toMatchObject({ costNanoUsd: null, status: 'unpriced' });
    expect(result.reason).toMatch(/inconsistent_usage/);
  });

  test('describe shows the matched entry, its dated schedule and every tier', () => {
    const description = engine.describe('openai', 'o3-2025-04-16', NOW);
    expect(description?.base).toMatchObject({
      source: PACKAGE,
      modelId: 'o3',
      effectiveFrom: '2025-06-10',
      effectiveUntil: null,
    });
    expect(description?.base.schedule.map((entry) => entry.from)).toEqual([null, '2025-06-10']);
    expect(description?.tiers.map((tier) => [tier.tier, tier.multiplier, tier.status])).toEqual([
      ['standard', '1', 'priced'],
      ['batch', '1/2', 'priced'],
      ['flex', '1/2', 'priced'],
      ['priority', '7/4', 'priced'],
      ['ultrafast', '1', 'estimated'],
      ['background_2h', '7/10', 'priced'],
      ['background_8h', '3/5', 'priced'],
    ]);
    expect(engine.describe('openai', 'o3', Date.UTC(2025, 0, 1))?.base.effectiveUntil).toBe('2025-06-10');
    expect(engine.describe('openai', 'no-such-model', NOW)).toBeNull();
  });

  test('price data the package refuses makes the call unpriced, not an exception', () => {
    // Bypasses validateOverrides on purpose: a cache_write_1h_mtok without cache_write_mtok.
    const broken = createPricingEngine({
      overrides: [
        {
          name: 'override-db',
          version: 'v9',
          document: {
            openai: [
              {
                id: 'broken',
                match: { equals: 'broken' },
                prices: { input_mtok: 1, cache_write_1h_mtok: 2 },
              },
            ],
          },
        },
      ],
    });
    const result = broken.price(query('broken', { promptTokens: 10 }));
    expect(result).toMatchObject({ costNanoUsd: null, status: 'unpriced' });
    expect(result.reason).toMatch(/^price_data_error: Missing ancestor price key/);
  });

  test('the same query twice gives the same result from the cache', () => {
    const first = price('gpt-4o', { promptTokens: 10, completionTokens: 5 });
    const second = price('gpt-4o', { promptTokens: 10, completionTokens: 5 });
    expect(second).toEqual(first);
    expect(second.rates).toBe(first.rates);
  });
});
