import {
  type ConditionalPrice,
  calcPrice,
  findProvider,
  type ModelInfo,
  type ModelPrice,
} from '@pydantic/genai-prices';
import { type CatalogueName, closeNames, createListingIndex, GENAI_PRICES_PROVIDERS } from './catalogue.js';
import { type CompiledPrice, compilePrice, computeCost, ratesAt } from './compute-cost.js';
import { formatRatio, ONE, parseRatio, type Ratio } from './exact-math.js';
import { inferProvider, type ProviderCatalogue, type ProviderInference } from './infer-provider.js';
import { type CompiledModel, compileMatch, findModel, priceAt } from './model-match.js';
import { OVERLAY_MODELS, OVERLAY_VERSION, TIER_ALIASES, TIER_RULES } from './overlay.js';
import type { OverrideDocument } from './price-overrides.js';
import type { PriceQuery, PriceResult, Pricer } from './types.js';

/**
 * The pricing engine: (usage, provider, model, call time, tier) -> integer nano-dollars plus
 * provenance. Pure: no I/O and no clock; overrides are passed in, and a new engine is built when
 * they change.
 *
 * Base prices resolve through layers, first hit wins:
 *   1. user overrides from the admin API (database), 2. user overrides from PRICES_FILE,
 *   3. our overlay (overlay.ts), 4. the bundled @pydantic/genai-prices data.
 * Overrides and the overlay are written in the package's schema and matched with its semantics, but
 * by model-match.ts, whose regexes run in linear time (model names come from clients); the bundled
 * package data is matched by the package itself (calcPrice). Tier multipliers come from overlay.ts.
 *
 * A resolved price is cached per (provider, model, UTC day, tier): every effective date is a UTC
 * midnight, so one day never straddles two prices. Models with time-of-day prices are not cached.
 */

/** Keep in step with package.json; a test checks it against the installed package. */
export const GENAI_PRICES_VERSION = '0.1.8';

const MS_PER_DAY = 86_400_000;
const CACHE_LIMIT = 20_000;
const PROBE = { input_tokens: 0, output_tokens: 0 };
const HALF = parseRatio('0.5');

/**
 * Provider ids clients use for the ones the price data knows by another name (LiteLLM's prefixes
 * among them). The package's own provider rules add more ("bedrock" is aws, "xai" is x-ai).
 */
const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  gemini: 'google',
  'google-ai': 'google',
  vertex_ai: 'google',
  vertex_ai_beta: 'google',
  together_ai: 'together',
  fireworks_ai: 'fireworks',
  azure_ai: 'azure',
  xai: 'x-ai',
};
/** Prefixes routers put on model ids ("openai/gpt-4o"); the price data knows the bare id. */
const MODEL_PREFIXES = ['openai/', 'azure/'];
const KNOWN_PROVIDERS: ReadonlySet<string> = new Set(GENAI_PRICES_PROVIDERS);

export interface OverrideLayer {
  /** "override-db" or "override-file". */
  name: string;
  /** Version of this layer's content, e.g. "v3" or "sha256:1a2b3c4d". */
  version: string;
  document: OverrideDocument;
}

export interface PricingEngineOptions {
  /** Highest precedence first. */
  overrides?: readonly OverrideLayer[];
}

interface Layer {
  source: string;
  /** Price entries per provider id, in the order written; undefined: the bundled package data. */
  providers?: ReadonlyMap<string, readonly CompiledModel[]>;
}

/** A document's entries as matchers, per provider id. */
function compileLayer(document: OverrideDocument): Map<string, CompiledModel[]> {
  const providers = new Map<string, CompiledModel[]>();
  for (const [providerId, entries] of Object.entries(document)) {
    providers.set(
      providerId,
      entries.map((entry) => ({
        info: {
          id: entry.id,
          match: entry.match,
          prices: entry.prices,
          ...(entry.name ? { name: entry.name } : {}),
        },
        matches: compileMatch(entry.match),
      })),
    );
  }
  return providers;
}

/** The package's verdict on a price of ours (e.g. a cache_write_1h_mtok without cache_write_mtok). */
const packageVerdicts = new WeakMap<ModelPrice, string | null>();

/** Throws the package's error when it refuses to compute with this price. */
function checkedByPackage(info: ModelInfo, price: ModelPrice): ModelPrice {
  let verdict = packageVerdicts.get(price);
  if (verdict === undefined) {
    verdict = null;
    try {
      calcPrice(PROBE, info.id, {
        provider: {
          id: 'check',
          name: 'check',
          api_pattern: '(?!)',
          models: [{ id: info.id, match: { equals: info.id }, prices: price }],
        },
      });
    } catch (error) {
      verdict = (error as Error).message;
    }
    packageVerdicts.set(price, verdict);
  }
  if (verdict !== null) throw new Error(verdict);
  return price;
}

/** The matched entry and its price at a time, from a layer of ours or from the package. */
function matchEntry(
  layer: Layer,
  provider: string,
  model: string,
  atMs: number,
): { info: ModelInfo; price: ModelPrice } | null {
  if (layer.providers) {
    const models = layer.providers.get(provider);
    const found = models && findModel(models, model);
    return found
      ? { info: found.info, price: checkedByPackage(found.info, priceAt(found.info, atMs)) }
      : null;
  }
  const result = calcPrice(PROBE, model, { providerId: provider, timestamp: new Date(atMs) });
  return result ? { info: result.model, price: result.model_price } : null;
}

/** A base price as matched: which layer, which model entry, which dated price. */
export interface BaseMatch {
  source: string;
  modelId: string;
  modelName: string | null;
  price: ModelPrice;
  effectiveFrom: string | null;
  effectiveUntil: string | null;
  /** Every dated price of the matched model, oldest first. */
  schedule: { from: string | null; prices: ModelPrice }[];
  hasTimeOfDay: boolean;
}

export interface TierPlan {
  tier: string;
  multiplier: Ratio;
  status: 'priced' | 'estimated';
  reason: string | null;
  /** Where the multiplier came from: the overlay version, or null for standard rates. */
  rule: string | null;
}

export interface PriceDescription {
  provider: string;
  model: string;
  atMs: number;
  base: BaseMatch;
  /** What each tier would multiply the standard price by for this model at this time. */
  tiers: { tier: string; multiplier: string; status: 'priced' | 'estimated'; reason: string | null }[];
}

export interface PricingEngine extends Pricer {
  /** What a model costs at a time and where the price came from; null when no layer knows it. */
  describe(provider: string, model: string, atMs: number): PriceDescription | null;
  /** The base price match alone (for "is this model priced now?"). */
  resolve(provider: string, model: string, atMs: number): BaseMatch | null;
  /** Every layer's source, highest precedence first, e.g. ["override-db@v2", ..., "genai-prices@0.1.8"]. */
  readonly sources: readonly string[];
  /** The provider of a model a record does not name a provider for (infer-provider.ts). */
  inferProvider(model: string, defaultProvider: string): ProviderInference;
  /** Catalogue names close to a name no layer knows, those of `provider` first (for hints). */
  closeNames(model: string, provider: string | null): CatalogueName[];
}

interface Resolved {
  base: BaseMatch;
  plan: TierPlan;
  compiled: CompiledPrice;
  /** Provenance (and its JSON) per tier level, built once. */
  provenance: Map<number, { rates: Record<string, unknown>; json: string }>;
}

type Unknown = { unknown: true; reason: string };
type CacheEntry = Resolved | Unknown;
type BaseEntry = { base: BaseMatch; compiled: CompiledPrice } | Unknown;

function normaliseProvider(provider: string): string {
  const id = provider.trim().toLowerCase();
  return PROVIDER_ALIASES[id] ?? id;
}

/** The id the price data knows: lower case, without a router prefix or one naming `provider`. */
export function normaliseModel(model: string, provider?: string): string {
  const id = model.trim().toLowerCase();
  for (const prefix of MODEL_PREFIXES) if (id.startsWith(prefix)) return id.slice(prefix.length);
  const slash = id.indexOf('/');
  if (provider !== undefined && slash > 0 && normaliseProvider(id.slice(0, slash)) === provider) {
    return id.slice(slash + 1);
  }
  return id;
}

function dateMs(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

function matchIn(layer: Layer, provider: string, model: string, atMs: number): BaseMatch | null {
  const matched = matchEntry(layer, provider, model, atMs);
  if (!matched) return null;
  const { info, price } = matched;
  const dated = Array.isArray(info.prices) ? (info.prices as ConditionalPrice[]) : null;
  const startOf = (entry: ConditionalPrice | undefined) =>
    entry?.constraint?.type === 'start_date' ? entry.constraint.start_date : null;
  const index = dated ? dated.findIndex((entry) => entry.prices === price) : -1;
  return {
    source: layer.source,
    modelId: info.id,
    modelName: info.name ?? null,
    price,
    effectiveFrom: dated ? startOf(dated[index]) : null,
    effectiveUntil: dated ? startOf(dated[index + 1]) : null,
    schedule: dated
      ? dated.map((entry) => ({ from: startOf(entry), prices: entry.prices }))
      : [{ from: null, prices: info.prices as ModelPrice }],
    hasTimeOfDay: dated ? dated.some((entry) => entry.constraint?.type === 'time_of_date') : false,
  };
}

function multiplierAt(schedule: readonly { startDate?: string; multiplier: string }[], atMs: number): string {
  let current = schedule[0]?.multiplier ?? '1';
  for (const entry of schedule)
    if (entry.startDate === undefined || atMs >= dateMs(entry.startDate)) current = entry.multiplier;
  return current;
}

const OVERLAY_RULE = `overlay@${OVERLAY_VERSION}`;

/** Which tier a call was served at and what that multiplies the standard price by. */
export function planTier(
  provider: string,
  modelId: string,
  call: { serviceTier: string | null; batch: boolean; completionWindow: string | null },
  atMs: number,
): TierPlan {
  const raw = call.serviceTier?.trim().toLowerCase() || null;
  const requested = raw === null ? 'standard' : (TIER_ALIASES[raw] ?? raw);
  const window = call.completionWindow?.trim().toLowerCase() || null;
  const notes: string[] = [];

  if (call.batch || requested === 'batch') {
    if (requested !== 'standard' && requested !== 'batch')
      notes.push(`service_tier "${raw}" ignored for a batch call`);
    if (window !== null && window !== 'soonest')
      notes.push(`completion_window "${window}" ignored for a batch call`);
    if (!TIER_RULES.batchProviders.includes(provider))
      notes.push(`no batch discount known for ${provider}; 0.5 assumed`);
    return {
      tier: 'batch',
      multiplier: HALF,
      status: notes.length > 0 ? 'estimated' : 'priced',
      reason: notes.length > 0 ? notes.join('; ') : null,
      rule: OVERLAY_RULE,
    };
  }

  if (requested === 'standard') {
    if (window === null || window === 'soonest') {
      return { tier: 'standard', multiplier: ONE, status: 'priced', reason: null, rule: null };
    }
    const multiplier = TIER_RULES.completionWindows[window];
    if (multiplier === undefined) {
      return {
        tier: 'standard',
        multiplier: ONE,
        status: 'estimated',
        reason: `unknown completion_window "${window}"; standard rates used`,
        rule: null,
      };
    }
    const known = provider === 'openai' || provider === 'azure';
    return {
      tier: `background_${window}`,
      multiplier: parseRatio(multiplier),
      status: known ? 'priced' : 'estimated',
      reason: known ? null : `background completion windows are known for OpenAI only; ${multiplier} assumed`,
      rule: OVERLAY_RULE,
    };
  }

  if (window !== null && window !== 'soonest') {
    notes.push(`completion_window "${window}" applies to the standard tier only; ignored`);
  }
  const rules = TIER_RULES.tiers[provider === 'azure' ? 'openai' : provider]?.[requested];
  const card = rules?.cards.find((candidate) => candidate.models.includes(modelId));
  if (card) {
    const multiplier = multiplierAt(card.schedule, atMs);
    return {
      tier: requested,
      multiplier: parseRatio(multiplier),
      status: notes.length > 0 ? 'estimated' : 'priced',
      reason: notes.length > 0 ? notes.join('; ') : null,
      rule: OVERLAY_RULE,
    };
  }
  if (rules?.fallback) {
    notes.push(`no ${requested} rate card for ${modelId}; default ${rules.fallback}x`);
    return {
      tier: requested,
      multiplier: parseRatio(rules.fallback),
      status: 'estimated',
      reason: notes.join('; '),
      rule: OVERLAY_RULE,
    };
  }
  notes.push(`no rate card for service_tier "${requested}" on ${modelId}; standard rates used`);
  return { tier: requested, multiplier: ONE, status: 'estimated', reason: notes.join('; '), rule: null };
}

/** Tiers shown by describe(): the ones a call of this provider can be billed at. */
const DESCRIBED_TIERS: readonly { serviceTier: string | null; batch: boolean; window: string | null }[] = [
  { serviceTier: null, batch: false, window: null },
  { serviceTier: null, batch: true, window: null },
  { serviceTier: 'flex', batch: false, window: null },
  { serviceTier: 'priority', batch: false, window: null },
  { serviceTier: 'ultrafast', batch: false, window: null },
  { serviceTier: null, batch: false, window: '2h' },
  { serviceTier: null, batch: false, window: '8h' },
];

function unpriced(reason: string, detail: string | null, tier: string | null): PriceResult {
  const rates = { reason, ...(detail ? { detail } : {}) };
  return {
    costNanoUsd: null,
    status: 'unpriced',
    source: null,
    rates,
    ratesJson: JSON.stringify(rates),
    tier,
    reason: detail ? `${reason}: ${detail}` : reason,
  };
}

export function createPricingEngine(options: PricingEngineOptions = {}): PricingEngine {
  const layers: Layer[] = [
    ...(options.overrides ?? []).map((layer) => ({
      source: `${layer.name}@${layer.version}`,
      providers: compileLayer(layer.document),
    })),
    { source: OVERLAY_RULE, providers: compileLayer(OVERLAY_MODELS as OverrideDocument) },
    { source: `genai-prices@${GENAI_PRICES_VERSION}` },
  ];
  const cache = new Map<string, CacheEntry>();
  const bases = new Map<string, BaseEntry>();

  function resolve(provider: string, model: string, atMs: number): BaseMatch | null {
    const providerId = normaliseProvider(provider);
    const modelId = normaliseModel(model, providerId);
    if (modelId === '') return null;
    // "anthropic/claude-sonnet-4" under anthropic is its "claude-sonnet-4"; a provider whose own
    // names carry its prefix ("openrouter/auto") still finds them as sent.
    const asSent = normaliseModel(model);
    for (const id of asSent === modelId ? [modelId] : [modelId, asSent]) {
      for (const layer of layers) {
        const match = matchIn(layer, providerId, id, atMs);
        if (match) return match;
      }
    }
    return null;
  }

  /** The base price of (provider, model, day), shared by every tier of that day. */
  function baseFor(providerId: string, query: PriceQuery, dayKey: string): BaseEntry {
    let entry = bases.get(dayKey);
    if (entry === undefined) {
      try {
        const base = resolve(providerId, query.model, query.atMs);
        entry = base
          ? { base, compiled: compilePrice(base.price) }
          : { unknown: true, reason: 'unknown_model' };
      } catch (error) {
        entry = { unknown: true, reason: `price_data_error: ${(error as Error).message}` };
      }
      // Time-of-day prices change within a day: such a model is resolved per call, never cached.
      if (!('base' in entry && entry.base.hasTimeOfDay)) {
        if (bases.size >= CACHE_LIMIT) bases.clear();
        bases.set(dayKey, entry);
      }
    }
    return entry;
  }

  function build(query: PriceQuery, providerId: string, dayKey: string): CacheEntry {
    const found = baseFor(providerId, query, dayKey);
    if ('unknown' in found) return found;
    const plan = planTier(providerId, found.base.modelId, query, query.atMs);
    return { base: found.base, plan, compiled: found.compiled, provenance: new Map() };
  }

  function provenance(resolved: Resolved, level: number, inputTokens: number) {
    let cached = resolved.provenance.get(level);
    if (!cached) {
      const { base, plan, compiled } = resolved;
      const rates = Object.freeze({
        unit: 'usd_per_mtok',
        model: base.modelId,
        effective_from: base.effectiveFrom,
        ...ratesAt(compiled, inputTokens),
        long_context: level > 0,
        tier: plan.tier,
        multiplier: formatRatio(plan.multiplier),
        ...(plan.rule ? { tier_rule: plan.rule } : {}),
        ...(plan.reason ? { estimated_because: plan.reason } : {}),
      });
      cached = { rates, json: JSON.stringify(rates) };
      resolved.provenance.set(level, cached);
    }
    return cached;
  }

  let listing: ((model: string) => Set<string>) | null = null;
  function providersListing(model: string): string[] {
    listing ??= createListingIndex(layers.flatMap((layer) => (layer.providers ? [...layer.providers] : [])));
    const lower = model.trim().toLowerCase();
    // The index over-approximates the package's few lookahead rules: confirm each hit.
    return [...listing(lower)].filter((provider) => hasEntry(provider, lower));
  }

  /** Whether a layer has an entry for the name; one whose price data is broken counts (it is priced as unpriced). */
  function hasEntry(provider: string, model: string): boolean {
    try {
      return resolve(provider, model, 0) !== null;
    } catch {
      return true;
    }
  }

  const customProviders = new Set(layers.flatMap((layer) => [...(layer.providers?.keys() ?? [])]));
  const catalogue: ProviderCatalogue = {
    prices: hasEntry,
    providerId(name) {
      const id = normaliseProvider(name);
      if (KNOWN_PROVIDERS.has(id) || customProviders.has(id)) return id;
      const found = findProvider({ providerId: id })?.id;
      return found !== undefined && KNOWN_PROVIDERS.has(found) ? found : null;
    },
    maker: (model) => findProvider({ modelId: model })?.id ?? null,
    listing: (model) => providersListing(model),
  };
  const inferred = new Map<string, ProviderInference>();

  return {
    sources: layers.map((layer) => layer.source),

    inferProvider(model, defaultProvider) {
      const key = `${defaultProvider}\u0000${model}`;
      let answer = inferred.get(key);
      if (answer === undefined) {
        answer = inferProvider(catalogue, model, defaultProvider);
        if (inferred.size >= CACHE_LIMIT) inferred.clear();
        inferred.set(key, answer);
      }
      return answer;
    },

    closeNames(model, provider) {
      const custom = layers.flatMap((layer) => (layer.providers ? [...layer.providers] : []));
      return closeNames(model, provider === null ? null : normaliseProvider(provider), custom);
    },

    resolve(provider, model, atMs) {
      return resolve(normaliseProvider(provider), model, atMs);
    },

    price(query: PriceQuery): PriceResult {
      const providerId = normaliseProvider(query.provider);
      const dayKey = `${providerId}\u0000${query.model}\u0000${Math.floor(query.atMs / MS_PER_DAY)}`;
      const key = `${dayKey}\u0000${query.serviceTier ?? ''}\u0000${query.batch ? 1 : 0}\u0000${query.completionWindow ?? ''}`;
      let entry = cache.get(key);
      if (entry === undefined) {
        entry = build(query, providerId, dayKey);
        if (!('base' in entry && entry.base.hasTimeOfDay)) {
          if (cache.size >= CACHE_LIMIT) cache.clear();
          cache.set(key, entry);
        }
      }
      if ('unknown' in entry) return unpriced(entry.reason, null, null);

      const outcome = computeCost(entry.compiled, query.usage, entry.plan.multiplier);
      if (!outcome.ok) return unpriced(outcome.reason, outcome.detail, entry.plan.tier);
      const { rates, json } = provenance(entry, outcome.level, query.usage.promptTokens);
      return {
        costNanoUsd: outcome.costNanoUsd,
        status: entry.plan.status,
        source: entry.base.source,
        rates,
        ratesJson: json,
        tier: entry.plan.tier,
        reason: entry.plan.reason,
      };
    },

    describe(provider, model, atMs) {
      const providerId = normaliseProvider(provider);
      const base = resolve(providerId, model, atMs);
      if (!base) return null;
      return {
        provider: providerId,
        model: normaliseModel(model, providerId),
        atMs,
        base,
        tiers: DESCRIBED_TIERS.map((tier) => {
          const plan = planTier(
            providerId,
            base.modelId,
            { serviceTier: tier.serviceTier, batch: tier.batch, completionWindow: tier.window },
            atMs,
          );
          return {
            tier: plan.tier,
            multiplier: formatRatio(plan.multiplier),
            status: plan.status,
            reason: plan.reason,
          };
        }),
      };
    },
  };
}
