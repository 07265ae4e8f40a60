import { findProvider, type ModelInfo, type Provider } from '@pydantic/genai-prices';

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
