import type { ModelInfo } from '@pydantic/genai-prices';

/**
 * Our own small price overlay: what @pydantic/genai-prices does not have. Two parts:
 * 1. MODELS: base prices for models newer than the package or that it prices incompletely, in the
 *    package's own ModelInfo shape (match rules, effective-dated ConditionalPrice lists, tiers).
 * 2. TIER_RULES: service-tier multipliers, which the package does not model at all (genai-prices
 *    issues #115, #390, #429): batch, flex, background completion windows, priority/fast and
 *    ultrafast rate cards per model, each effective-dated.
 * Evidence for every number: docs/pricing.md ("Fine-tuned models" for the ft: entries) and
 * ../shared/reference/pricing.md (sections 1.6, 2.1, 2.2). Bump OVERLAY_VERSION whenever a number
 * here changes: it is part of every row's pricing provenance.
 */
export const OVERLAY_VERSION = '2026-12-06';

/** Long context: above 272K input tokens the whole call pays 2x input/cache and 1.5x output (gpt-5.4+). */
const LONG = 272_000;
const tiered = (base: number, long: number) => ({ base, tiers: [{ start: LONG, price: long }] });

export const OVERLAY_MODELS: Readonly<Record<string, readonly ModelInfo[]>> = {
  openai: [
    {
      id: 'gpt-6.1-sol',
      name: 'GPT-6.1 Sol',
      match: { or: [{ equals: 'gpt-6.1-sol' }, { regex: '^gpt-6\\.1-sol-\\d{4}-\\d{2}-\\d{2}$' }] },
      price_comments:
        'Not in genai-prices 0.1.8. Launch 2026-09-29; third-party sources only (pricing.md 2.2).',
      prices: {
        input_mtok: tiered(2, 4),
        cache_read_mtok: tiered(0.1, 0.2),
        cache_write_mtok: tiered(2.5, 5),
        output_mtok: tiered(10, 15),
      },
    },
    {
      id: 'gpt-6.2-sol',
      name: 'GPT-6.2 Sol',
      match: { or: [{ equals: 'gpt-6.2-sol' }, { regex: '^gpt-6\\.2-sol-\\d{4}-\\d{2}-\\d{2}$' }] },
      price_comments:
        'Not in genai-prices 0.1.8 (M:gpt-6.2-sol). cache_write_mtok is the 30-minute write; cache_write_1h_mtok carries the 12-hour (extended) write.',
      prices: {
        input_mtok: tiered(2, 4),
        cache_read_mtok: tiered(0.1, 0.2),
        cache_write_mtok: tiered(2.5, 5),
        cache_write_1h_mtok: tiered(5, 10),
        output_mtok: tiered(10, 15),
      },
    },
    // Fine-tuned models: ids are ft:<base snapshot>:<org>:<suffix>:<job>, billed at the base's
    // fine-tuned inference rates (OpenAI's pricing page, Fine-tuning; docs/pricing.md has the
    // evidence). The package has ft:gpt-3.5-turbo (3 / 6) and ft:gpt-4-0613 (30 / 60, in its gpt-4
    // entry) right, ft:gpt-4o and ft:gpt-4o-mini without their cached rate, and none of the others.
    {
      id: 'ft:gpt-4o-mini',
      name: 'Fine-tuned GPT-4o mini',
      match: { starts_with: 'ft:gpt-4o-mini-2024-' },
      price_comments: 'genai-prices 0.1.8 has no cached rate for fine-tuned models (PP).',
      prices: { input_mtok: 0.3, cache_read_mtok: 0.15, output_mtok: 1.2 },
    },
    {
      id: 'ft:gpt-4o',
      name: 'Fine-tuned GPT-4o',
      match: { starts_with: 'ft:gpt-4o-2024-' },
      price_comments: 'genai-prices 0.1.8 has no cached rate for fine-tuned models (PP).',
      prices: { input_mtok: 3.75, cache_read_mtok: 1.875, output_mtok: 15 },
    },
    {
      id: 'ft:gpt-4.1-mini',
      name: 'Fine-tuned GPT-4.1 mini',
      match: { starts_with: 'ft:gpt-4.1-mini-2025-04-14' },
      prices: { input_mtok: 0.8, cache_read_mtok: 0.2, output_mtok: 3.2 },
    },
    {
      id: 'ft:gpt-4.1-nano',
      name: 'Fine-tuned GPT-4.1 nano',
      match: { starts_with: 'ft:gpt-4.1-nano-2025-04-14' },
      prices: { input_mtok: 0.2, cache_read_mtok: 0.05, output_mtok: 0.8 },
    },
    {
      id: 'ft:gpt-4.1',
      name: 'Fine-tuned GPT-4.1',
      match: { starts_with: 'ft:gpt-4.1-2025-04-14' },
      prices: { input_mtok: 3, cache_read_mtok: 0.75, output_mtok: 12 },
    },
    {
      id: 'ft:o4-mini',
      name: 'Fine-tuned o4-mini (reinforcement fine-tuning)',
      match: { starts_with: 'ft:o4-mini-2025-04-16' },
      price_comments:
        'Organisations that share data with OpenAI pay half (2 / 0.50 / 8); the id does not say, so the listed rate is used.',
      prices: { input_mtok: 4, cache_read_mtok: 1, output_mtok: 16 },
    },
    {
      id: 'ft:davinci-002',
      name: 'Fine-tuned davinci-002',
      match: { starts_with: 'ft:davinci-002' },
      prices: { input_mtok: 12, output_mtok: 12 },
    },
    {
      id: 'ft:babbage-002',
      name: 'Fine-tuned babbage-002',
      match: { starts_with: 'ft:babbage-002' },
      prices: { input_mtok: 1.6, output_mtok: 1.6 },
    },
  ],
};

/** A multiplier on the standard price, from a date (UTC, inclusive) until the next entry's date. */
export interface DatedMultiplier {
  /** YYYY-MM-DD; absent on the first entry, which applies before every later one. */
  startDate?: string;
  /** "0.5", "1.75", "5/3": exact, never a float. */
  multiplier: string;
}

/** A tier's rate card: which models (by their matched price id) pay which multiplier when. */
export interface TierCard {
  /** Price ids as matched (genai-prices ids or ours above), e.g. "gpt-4o" covers its snapshots. */
  models: readonly string[];
  schedule: readonly DatedMultiplier[];
}

export interface TierRules {
  /** Batch API: half price on every listed provider (BFAQ, PP, Anthropic and Gemini batch docs). */
  batchProviders: readonly string[];
  /** Background completion windows (OpenAI, Standard tier only): 2h is 30% off, 8h 40% off. */
  completionWindows: Readonly<Record<string, string>>;
  /** Per provider, per tier: the rate cards; a model without a card gets `fallback`, flagged estimated. */
  tiers: Readonly<
    Record<string, Readonly<Record<string, { cards: readonly TierCard[]; fallback: string | null }>>>
  >;
}

const always = (multiplier: string): DatedMultiplier[] => [{ multiplier }];

export const TIER_RULES: TierRules = {
  batchProviders: ['openai', 'azure', 'anthropic', 'google'],
  completionWindows: { soonest: '1', '2h': '0.7', '8h': '0.6' },
  tiers: {
    openai: {
      // "Tokens are priced at Batch API rates" (FLEX): listed where PP shows a flex column.
      flex: {
        cards: [{ models: ['o3', 'o4-mini', 'gpt-5', 'gpt-5-mini', 'gpt-5-nano'], schedule: always('0.5') }],
        fallback: '0.5',
      },
      // Priority, renamed Fast mode on 2026-07-30; per-model, not uniform (FAST, PP, LL).
      priority: {
        cards: [
          { models: ['gpt-4o'], schedule: always('1.7') },
          { models: ['gpt-4o-2024-05-13', 'gpt-4.1', 'gpt-4.1-mini', 'o3'], schedule: always('1.75') },
          // PP: 0.25 / 0.125 / 1.00 against 0.15 / 0.075 / 0.60.
          { models: ['gpt-4o-mini'], schedule: always('5/3') },
          // PP: 2.00 / 0.50 / 8.00 against 1.10 / 0.275 / 4.40.
          { models: ['o4-mini'], schedule: always('20/11') },
          { models: ['gpt-5-mini'], schedule: always('1.8') },
          { models: ['gpt-5.5'], schedule: always('2.5') },
          {
            models: [
              'gpt-4.1-nano',
              'gpt-5',
              'gpt-5.1',
              'gpt-5.2',
              'gpt-5.4',
              'gpt-5.4-mini',
              'gpt-5.6-sol',
              'gpt-5.6-terra',
              'gpt-5.6-luna',
              'gpt-6-astra',
              'gpt-6-sol',
              'gpt-6-luna',
              'gpt-6.1-sol',
              'gpt-6.2-sol',
            ],
            schedule: always('2'),
          },
        ],
        fallback: '2',
      },
      // Access-controlled; M:gpt-6.2-sol: "3x Standard through 2027-02-28, 6x from March 2027".
      ultrafast: {
        cards: [
          {
            models: ['gpt-6.2-sol'],
            schedule: [{ multiplier: '3' }, { startDate: '2027-03-01', multiplier: '6' }],
          },
        ],
        fallback: null,
      },
      // Legacy Scale Tier: committed capacity, priced by contract.
      scale: { cards: [], fallback: null },
    },
    anthropic: {
      // Anthropic's Priority Tier is a capacity commitment priced by contract.
      priority: { cards: [], fallback: null },
    },
  },
};

/** Tier names as clients send them, to the names above. "fast" is priority's new name (2026-07-30). */
export const TIER_ALIASES: Readonly<Record<string, string>> = {
  default: 'standard',
  auto: 'standard',
  standard: 'standard',
  standard_only: 'standard',
  on_demand: 'standard',
  fast: 'priority',
};
