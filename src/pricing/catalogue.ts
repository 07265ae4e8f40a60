import { findProvider, type MatchLogic, type ModelInfo, type Provider } from '@pydantic/genai-prices';
import { type CompiledModel, compileMatch, type ModelPredicate, spellOutDates } from './model-match.js';

/**
 * The providers of the bundled @pydantic/genai-prices data, in the package's order. The package can
 * find a provider by id but cannot list them, so the list is kept here; price-drift.test.ts checks
 * it against the installed package, so an upgrade that adds or drops a provider fails until it is
 * updated.
 */
export const GENAI_PRICES_PROVIDERS: readonly string[] = [
  'anthropic',
  'arcee',
  'avian',
  'aws',
  'azure',
  'baseten',
  'cerebras',
  'cloudflare',
  'cohere',
  'cursor',
  'deepseek',
  'doubleword',
  'fireworks',
  'github-copilot',
  'google',
  'groq',
  'huggingface_cerebras',
  'huggingface_fireworks-ai',
  'huggingface_groq',
  'huggingface_hyperbolic',
  'huggingface_nebius',
  'huggingface_novita',
  'huggingface_nscale',
  'huggingface_ovhcloud',
  'huggingface_publicai',
  'huggingface_sambanova',
  'huggingface_together',
  'minimax',
  'mistral',
  'modal',
  'moonshotai',
  'novita',
  'openai',
  'openrouter',
  'ovhcloud',
  'perplexity',
  'quicksilverpro',
  'together',
  'typesafe',
  'voyageai',
  'x-ai',
  'zai',
  'zhipuai',
];

let providers: readonly Provider[] | null = null;

/** The bundled providers, in the package's order. */
export function genaiPricesProviders(): readonly Provider[] {
  providers ??= GENAI_PRICES_PROVIDERS.map((id) => {
    const provider = findProvider({ providerId: id });
    if (!provider || provider.id !== id) throw new Error(`@pydantic/genai-prices has no provider ${id}`);
    return provider;
  });
  return providers;
}

/** Every model entry of the bundled data with its provider id. */
export function genaiPricesModels(): { provider: string; info: ModelInfo }[] {
  return genaiPricesProviders().flatMap((provider) =>
    provider.models.map((info) => ({ provider: provider.id, info })),
  );
}

interface Listings {
  /** Lower-cased exact names (rules made of `equals` only) -> providers. */
  exact: Map<string, Set<string>>;
  /** Every other rule. */
  rules: { provider: string; matches: ModelPredicate }[];
}

function addListing(
  listings: Listings,
  provider: string,
  match: MatchLogic,
  matches: () => ModelPredicate,
): void {
  const names = equalsOnly(match);
  if (names === null) {
    listings.rules.push({ provider, matches: matches() });
    return;
  }
  for (const name of names) {
    let providers = listings.exact.get(name);
    if (!providers) {
      providers = new Set();
      listings.exact.set(name, providers);
    }
    providers.add(provider);
  }
}

let packageListings: Listings | null = null;

/** The package's listings: built once per process (its data never changes while running). */
function genaiPricesListings(): Listings {
  if (!packageListings) {
    const listings: Listings = { exact: new Map(), rules: [] };
    for (const { provider, info } of genaiPricesModels()) {
      addListing(listings, provider, info.match, () => compileMatch(info.match, 'matches'));
    }
    packageListings = listings;
  }
  return packageListings;
}

/**
 * Which providers list a model name, over the package's data and the given custom layers: a
 * prefilter index (an exact-name map for the ~2,000 `equals` names, the ~400 other string rules as
 * predicates). A package rule RE2 cannot compile (a few lookaheads) counts as a hit here; callers
 * confirm hits with the pricing engine.
 */
export function createListingIndex(
  custom: Iterable<[provider: string, models: readonly CompiledModel[]]>,
): (model: string) => Set<string> {
  const ours: Listings = { exact: new Map(), rules: [] };
  for (const [provider, models] of custom) {
    for (const model of models) addListing(ours, provider, model.info.match, () => model.matches);
  }
  const all = [ours, genaiPricesListings()];
  return (model) => {
    const hits = new Set<string>();
    for (const name of new Set([model, spellOutDates(model)])) {
      for (const { exact, rules } of all) {
        for (const provider of exact.get(name) ?? []) hits.add(provider);
        for (const rule of rules) if (!hits.has(rule.provider) && rule.matches(name)) hits.add(rule.provider);
      }
    }
    return hits;
  };
}

/** The lower-cased names of a rule made of `equals` (and `or` of them) only; null otherwise. */
function equalsOnly(match: MatchLogic): string[] | null {
  if ('equals' in match) return [match.equals.toLowerCase()];
  if (!('or' in match)) return null;
  const names: string[] = [];
  for (const part of match.or) {
    const inner = equalsOnly(part);
    if (inner === null) return null;
    names.push(...inner);
  }
  return names;
}

export interface CatalogueName {
  provider: string;
  /** A model id or an exact name a price entry matches, lower case. */
  model: string;
}

let packageNames: CatalogueName[] | null = null;

/** The names a rule spells out: its `equals` and `starts_with` values, lower case. */
function spelledNames(match: MatchLogic): string[] {
  if ('or' in match) return match.or.flatMap(spelledNames);
  if ('and' in match) return match.and.flatMap(spelledNames);
  if ('equals' in match) return [match.equals.toLowerCase()];
  if ('starts_with' in match) return [match.starts_with.toLowerCase()];
  return [];
}

/** An entry's id and the names its rule spells out, per provider: what suggestions come from. */
function namesOf(provider: string, info: ModelInfo): CatalogueName[] {
  const names = new Set([info.id.toLowerCase(), ...spelledNames(info.match)]);
  return [...names].map((model) => ({ provider, model }));
}

/**
 * Up to `limit` catalogue names close to `model` (edit distance at most a fifth of its length, at
 * least 2), nearest first; those of `provider` first when it is given. For "no price" hints.
 */
export function closeNames(
  model: string,
  provider: string | null,
  custom: Iterable<[provider: string, models: readonly CompiledModel[]]>,
  limit = 5,
): CatalogueName[] {
  packageNames ??= genaiPricesModels().flatMap(({ provider: id, info }) => namesOf(id, info));
  const ours = [...custom].flatMap(([id, models]) => models.flatMap((entry) => namesOf(id, entry.info)));
  const wanted = model.trim().toLowerCase();
  const budget = Math.max(2, Math.floor(wanted.length / 5));
  const scored: { name: CatalogueName; distance: number }[] = [];
  for (const name of [...ours, ...packageNames]) {
    const distance = boundedDistance(wanted, name.model, budget);
    if (distance !== null && distance > 0) scored.push({ name, distance });
  }
  const rank = (entry: { name: CatalogueName }) =>
    provider !== null && entry.name.provider !== provider ? 1 : 0;
  scored.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      a.distance - b.distance ||
      a.name.model.localeCompare(b.name.model) ||
      a.name.provider.localeCompare(b.name.provider),
  );
  const seen = new Set<string>();
  const result: CatalogueName[] = [];
  for (const { name } of scored) {
    const key = `${name.provider}\u0000${name.model}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(name);
    if (result.length === limit) break;
  }
  return result;
}

/** Levenshtein distance if it is at most `budget`, else null; O(length x budget). */
export function boundedDistance(a: string, b: string, budget: number): number | null {
  if (Math.abs(a.length - b.length) > budget) return null;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = new Array<number>(b.length + 1).fill(budget + 1);
    current[0] = i;
    const from = Math.max(1, i - budget);
    const to = Math.min(b.length, i + budget);
    let best = from === 1 ? i : budget + 1;
    for (let j = from; j <= to; j += 1) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      const value = Math.min(
        (previous[j - 1] ?? budget + 1) + cost,
        (previous[j] ?? budget + 1) + 1,
        (current[j - 1] ?? budget + 1) + 1,
      );
      current[j] = value;
      if (value < best) best = value;
    }
    if (best > budget) return null;
    previous = current;
  }
  const distance = previous[b.length] ?? budget + 1;
  return distance <= budget ? distance : null;
}
