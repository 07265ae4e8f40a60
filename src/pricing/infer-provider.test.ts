import { expect, test } from 'vitest';
import { boundedDistance } from './catalogue.js';
import type { ProviderInference } from './infer-provider.js';
import { createPricingEngine } from './pricing-engine.js';

/** Issue 17 item 5: which provider a model sent without one belongs to, case by case. */

const engine = createPricingEngine({
  overrides: [
    {
      name: 'override-db',
      version: 'v1',
      document: {
        acme: [{ id: 'acme-large', match: { starts_with: 'acme-large' }, prices: { input_mtok: 1 } }],
      },
    },
  ],
});

const cases: [sent: string, defaultProvider: string, expected: Omit<ProviderInference, 'candidates'>][] = [
  // The default provider prices it: kept, even where other providers list it too.
  ['gpt-4o', 'openai', { provider: 'openai', model: 'gpt-4o', inferredFrom: 'default' }],
  [
    'ft:gpt-4.1-mini-2025-04-14:acme::x',
    'openai',
    { provider: 'openai', model: 'ft:gpt-4.1-mini-2025-04-14:acme::x', inferredFrom: 'default' },
  ],
  // A prefix naming the default provider is dropped when the bare name is priced.
  ['openai/gpt-4o', 'openai', { provider: 'openai', model: 'gpt-4o', inferredFrom: 'default' }],
  // The model name's maker.
  [
    'claude-sonnet-4',
    'openai',
    { provider: 'anthropic', model: 'claude-sonnet-4', inferredFrom: 'model_name' },
  ],
  [
    'Claude-Sonnet-4-5-20250929',
    'openai',
    { provider: 'anthropic', model: 'Claude-Sonnet-4-5-20250929', inferredFrom: 'model_name' },
  ],
  ['gemini-2.5-pro', 'openai', { provider: 'google', model: 'gemini-2.5-pro', inferredFrom: 'model_name' }],
  ['grok-4', 'openai', { provider: 'x-ai', model: 'grok-4', inferredFrom: 'model_name' }],
  [
    'mistral-large-latest',
    'openai',
    { provider: 'mistral', model: 'mistral-large-latest', inferredFrom: 'model_name' },
  ],
  ['gpt-7-preview', 'openai', { provider: 'openai', model: 'gpt-7-preview', inferredFrom: 'model_name' }],
  ['gpt-4o', 'anthropic', { provider: 'openai', model: 'gpt-4o', inferredFrom: 'model_name' }],
  [
    'text-embedding-3-small',
    'anthropic',
    { provider: 'openai', model: 'text-embedding-3-small', inferredFrom: 'model_name' },
  ],
  // A fine-tune belongs to its base's maker.
  [
    'ft:gpt-4.1-2025-04-14:acme::x',
    'anthropic',
    { provider: 'openai', model: 'ft:gpt-4.1-2025-04-14:acme::x', inferredFrom: 'model_name' },
  ],
  [
    'ft:open-mistral-7b:587a6b29:20240514:7e773925',
    'openai',
    {
      provider: 'mistral',
      model: 'ft:open-mistral-7b:587a6b29:20240514:7e773925',
      inferredFrom: 'model_name',
    },
  ],
  // LiteLLM-style prefixes: the prefix is the provider, the rest the model.
  [
    'anthropic/claude-sonnet-4',
    'openai',
    { provider: 'anthropic', model: 'claude-sonnet-4', inferredFrom: 'prefix' },
  ],
  [
    'gemini/gemini-2.5-pro',
    'openai',
    { provider: 'google', model: 'gemini-2.5-pro', inferredFrom: 'prefix' },
  ],
  [
    'vertex_ai/gemini-2.5-pro',
    'openai',
    { provider: 'google', model: 'gemini-2.5-pro', inferredFrom: 'prefix' },
  ],
  [
    'bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0',
    'openai',
    { provider: 'aws', model: 'anthropic.claude-3-5-sonnet-20240620-v1:0', inferredFrom: 'prefix' },
  ],
  [
    'groq/llama-3.3-70b-versatile',
    'openai',
    { provider: 'groq', model: 'llama-3.3-70b-versatile', inferredFrom: 'prefix' },
  ],
  [
    'openrouter/anthropic/claude-sonnet-4',
    'openai',
    { provider: 'openrouter', model: 'anthropic/claude-sonnet-4', inferredFrom: 'prefix' },
  ],
  ['openai/gpt-7', 'openai', { provider: 'openai', model: 'gpt-7', inferredFrom: 'prefix' }],
  // A default provider that prices the name with its prefix keeps it as sent.
  [
    'anthropic/claude-sonnet-4',
    'openrouter',
    { provider: 'openrouter', model: 'anthropic/claude-sonnet-4', inferredFrom: 'default' },
  ],
  // Listed by exactly one provider.
  [
    'llama-3.3-70b-versatile',
    'openai',
    { provider: 'groq', model: 'llama-3.3-70b-versatile', inferredFrom: 'catalogue' },
  ],
  ['acme-large-2', 'openai', { provider: 'acme', model: 'acme-large-2', inferredFrom: 'catalogue' }],
  // Nothing: the default provider, unpriced.
  ['my-house-model', 'openai', { provider: 'openai', model: 'my-house-model', inferredFrom: null }],
  ['team/house-model', 'openai', { provider: 'openai', model: 'team/house-model', inferredFrom: null }],
  [`${'a'.repeat(199)}!`, 'openai', { provider: 'openai', model: `${'a'.repeat(199)}!`, inferredFrom: null }],
];

for (const [sent, defaultProvider, expected] of cases) {
  test(`${sent.slice(0, 60)} sent without a provider (default ${defaultProvider}) is ${expected.provider}'s ${expected.model.slice(0, 40)} (${expected.inferredFrom})`, () => {
    expect(engine.inferProvider(sent, defaultProvider)).toMatchObject(expected);
  });
}

test('a model several hosts list is not guessed: the default provider, with the hosts as candidates', () => {
  const inferred = engine.inferProvider('meta-llama/llama-3.3-70b-instruct', 'openai');
  expect(inferred).toMatchObject({ provider: 'openai', inferredFrom: null });
  expect(inferred.candidates).toEqual(expect.arrayContaining(['openrouter', 'novita', 'huggingface_groq']));
});

test('an inferred provider prices the model it infers', () => {
  for (const sent of [
    'claude-sonnet-4',
    'anthropic/claude-sonnet-4',
    'gemini-2.5-pro',
    'llama-3.3-70b-versatile',
  ]) {
    const { provider, model } = engine.inferProvider(sent, 'openai');
    expect(engine.resolve(provider, model, Date.UTC(2026, 10, 1)), sent).not.toBeNull();
  }
  // A stored row that kept its prefix is priced under the provider the prefix names.
  expect(engine.resolve('anthropic', 'anthropic/claude-sonnet-4', Date.UTC(2026, 10, 1))?.modelId).toBe(
    'claude-sonnet-4-0',
  );
});

test('close names for a hint: the same provider first, nearest first', () => {
  const close = engine.closeNames('claude-sonet-4', 'anthropic');
  expect(close[0]).toEqual({ provider: 'anthropic', model: 'claude-sonnet-4' });
  const providers = close.map((name) => name.provider);
  expect(providers.slice(providers.lastIndexOf('anthropic') + 1)).not.toContain('anthropic');
  expect(providers.slice(0, providers.lastIndexOf('anthropic') + 1).every((p) => p === 'anthropic')).toBe(
    true,
  );
  expect(engine.closeNames('zzzzzzzzzzzzzzzzzzzzzz', null)).toEqual([]);
  expect(boundedDistance('claude-sonet-4', 'claude-sonnet-4', 2)).toBe(1);
  expect(boundedDistance('kitten', 'sitting', 3)).toBe(3);
  expect(boundedDistance('kitten', 'sitting', 2)).toBeNull();
  expect(boundedDistance('a'.repeat(200), 'b'.repeat(200), 40)).toBeNull();
});

test('a provider whose own names carry its prefix still finds them when that prefix is kept', () => {
  const routed = createPricingEngine({
    overrides: [
      {
        name: 'override-db',
        version: 'v1',
        document: {
          openrouter: [
            { id: 'openrouter/house', match: { equals: 'openrouter/house' }, prices: { input_mtok: 1 } },
          ],
        },
      },
    ],
  });
  expect(routed.resolve('openrouter', 'openrouter/house', 0)?.modelId).toBe('openrouter/house');
  expect(routed.inferProvider('openrouter/house', 'openrouter')).toMatchObject({
    provider: 'openrouter',
    model: 'openrouter/house',
    inferredFrom: 'default',
  });
});
