/**
 * Which provider a model name belongs to, for a usage record that does not name one. A client's
 * explicit provider always wins; this only runs without one. First hit wins:
 *
 *   1. the default provider (PROVIDER) prices the name as sent: keep it (gpt-4o stays openai,
 *      though Azure and GitHub Copilot list it too; PROVIDER=openrouter keeps "anthropic/..." names)
 *   2. a LiteLLM-style prefix names a provider: "anthropic/claude-sonnet-4" is anthropic's
 *      "claude-sonnet-4" (the prefix is the provider, so the stored model drops it)
 *   3. the model-name rules of the price data, i.e. who makes the model: "claude" is Anthropic's,
 *      "gemini" Google's, "gpt-"/"o1"/"o3"/"o4" and a few other prefixes OpenAI's, "grok" xAI's...
 *      (@pydantic/genai-prices' own `model_match` rules, then NAME_RULES below); a fine-tune
 *      ("ft:<base>:...") belongs to its base's maker
 *   4. the catalogue's model lists (package data, our overlay, the overrides): the provider, when
 *      exactly one lists the name; when several do (a model many hosts serve), none is guessed
 *   5. nothing: the default provider, unpriced, with the candidates of step 4 if any
 *
 * Pure: the catalogue is passed in. Cheap for names seen before (the engine caches the answer);
 * a never-seen name costs a few lookups and the catalogue's string rules (bench/README.md).
 */

/** How the provider was found; `default`: the default provider prices the name. */
export type ProviderEvidence = 'default' | 'prefix' | 'model_name' | 'catalogue';

export interface ProviderInference {
  /** The provider to store and price with. */
  provider: string;
  /** The model to store: as sent, or without a prefix that named its provider. */
  model: string;
  /** null: nothing matched, so `provider` is the default provider and the name is unpriced. */
  inferredFrom: ProviderEvidence | null;
  /** When several providers list the name and none makes it: those providers. */
  candidates: readonly string[];
}

/** What inference needs to know about the price catalogue. */
export interface ProviderCatalogue {
  /** Whether some price layer has an entry for this (provider, model). */
  prices(provider: string, model: string): boolean;
  /** The provider id a client means by this name ("anthropic", "gemini", "vertex_ai", "bedrock"...), or null. */
  providerId(name: string): string | null;
  /** The provider whose model-name rules claim this (lower-cased) name, or null. */
  maker(model: string): string | null;
  /** Providers with an entry of their own (not through another provider's list) for this name. */
  listing(model: string): readonly string[];
}

/** OpenAI model families the package's OpenAI rule ("gpt-", "o1/o3/o4", "whisper-1") misses. */
const NAME_RULES: readonly { startsWith: string; provider: string }[] = [
  { startsWith: 'chatgpt-', provider: 'openai' },
  { startsWith: 'text-embedding-3-', provider: 'openai' },
  { startsWith: 'text-embedding-ada-', provider: 'openai' },
  { startsWith: 'davinci-', provider: 'openai' },
  { startsWith: 'babbage-', provider: 'openai' },
  { startsWith: 'omni-moderation-', provider: 'openai' },
  { startsWith: 'text-moderation-', provider: 'openai' },
  { startsWith: 'codex-', provider: 'openai' },
  { startsWith: 'computer-use-', provider: 'openai' },
  { startsWith: 'dall-e-', provider: 'openai' },
  { startsWith: 'tts-', provider: 'openai' },
];

/** The maker of a name: the price data's rules, then ours; a fine-tune's is its base's. */
function makerOf(catalogue: ProviderCatalogue, model: string): string | null {
  if (model.startsWith('ft:')) {
    const base = model.slice(3).split(':')[0] ?? '';
    return base === '' ? null : makerOf(catalogue, base);
  }
  return (
    catalogue.maker(model) ?? NAME_RULES.find((rule) => model.startsWith(rule.startsWith))?.provider ?? null
  );
}

export function inferProvider(
  catalogue: ProviderCatalogue,
  sent: string,
  defaultProvider: string,
): ProviderInference {
  const model = sent.trim();
  const lower = model.toLowerCase();
  const slash = model.indexOf('/');
  const prefix = slash > 0 && slash < model.length - 1 ? catalogue.providerId(lower.slice(0, slash)) : null;
  const bare = prefix === null ? model : model.slice(slash + 1);
  const found = (provider: string, stored: string, inferredFrom: ProviderEvidence): ProviderInference => ({
    provider,
    model: stored,
    inferredFrom,
    candidates: [],
  });

  if (catalogue.prices(defaultProvider, model)) {
    // "openai/gpt-4o" sent to an openai default is stored as "gpt-4o"; "openrouter/auto" to an
    // openrouter default stays as sent, since that is its name there.
    const stripped =
      prefix !== null &&
      prefix === catalogue.providerId(defaultProvider) &&
      catalogue.prices(defaultProvider, bare);
    return found(defaultProvider, stripped ? bare : model, 'default');
  }
  if (prefix !== null) return found(prefix, bare, 'prefix');
  const maker = makerOf(catalogue, lower);
  if (maker !== null) return found(maker, model, 'model_name');
  const listing = catalogue.listing(lower);
  if (listing.length === 1) return found(listing[0] as string, model, 'catalogue');
  return { provider: defaultProvider, model, inferredFrom: null, candidates: listing };
}
