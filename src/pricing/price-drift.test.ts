import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type ConditionalPrice, calcPrice, type ModelPrice } from '@pydantic/genai-prices';
import { expect, test } from 'vitest';
import { GENAI_PRICES_PROVIDERS, genaiPricesProviders } from './catalogue.js';
import { compileModelRegex } from './model-match.js';
import { GENAI_PRICES_VERSION } from './pricing-engine.js';

/**
 * Price drift. Prints the package's rates for a fixed list of models into
 * __snapshots__/genai-prices-rates.txt, so that bumping @pydantic/genai-prices shows every price
 * it changes in review. After a bump: read the diff, then `npx vitest run -u` to accept it.
 */

const MODELS: readonly [provider: string, model: string][] = [
  ['openai', 'gpt-4o-mini'],
  ['openai', 'gpt-4o'],
  ['openai', 'gpt-4o-2024-05-13'],
  ['openai', 'chatgpt-4o-latest'],
  ['openai', 'gpt-4.1'],
  ['openai', 'gpt-4.1-mini'],
  ['openai', 'gpt-4.1-nano'],
  ['openai', 'o1'],
  ['openai', 'o1-mini'],
  ['openai', 'o3'],
  ['openai', 'o3-mini'],
  ['openai', 'o3-pro'],
  ['openai', 'o4-mini'],
  ['openai', 'gpt-5'],
  ['openai', 'gpt-5-mini'],
  ['openai', 'gpt-5-nano'],
  ['openai', 'gpt-5-pro'],
  ['openai', 'gpt-5.1'],
  ['openai', 'gpt-5.2'],
  ['openai', 'gpt-5.4'],
  ['openai', 'gpt-5.4-mini'],
  ['openai', 'gpt-5.5'],
  ['openai', 'gpt-5.6-sol'],
  ['openai', 'gpt-5.6-terra'],
  ['openai', 'gpt-5.6-luna'],
  ['openai', 'gpt-6-astra'],
  ['openai', 'gpt-6-sol'],
  ['openai', 'gpt-6-luna'],
  ['openai', 'gpt-6.1-sol'],
  ['openai', 'gpt-6.2-sol'],
  ['openai', 'gpt-3.5-turbo'],
  ['openai', 'text-embedding-3-small'],
  ['openai', 'text-embedding-3-large'],
  ['openai', 'ft:gpt-4o-mini-2024-07-18:org::id'],
  ['anthropic', 'claude-haiku-4-5'],
  ['anthropic', 'claude-sonnet-4-5'],
  ['anthropic', 'claude-opus-4-5'],
  ['anthropic', 'claude-sonnet-5'],
  ['google', 'gemini-2.5-flash'],
  ['google', 'gemini-2.5-pro'],
  ['google', 'gemini-3.1-pro-preview'],
  ['google', 'gemini-3.6-flash'],
];

function formatPrice(price: ModelPrice): string {
  return Object.entries(price)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) =>
      typeof value === 'number'
        ? `${key}=${value}`
        : `${key}=${value?.base}${value?.tiers.map((tier) => `|>${tier.start}:${tier.price}`).join('')}`,
    )
    .join(' ');
}

test('the installed @pydantic/genai-prices is the version the engine names in every row’s provenance', () => {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@pydantic/genai-prices');
  const manifest = JSON.parse(
    readFileSync(entry.replace(/dist[/\\]index\.c?js$/, 'package.json'), 'utf8'),
  ) as {
    version: string;
  };
  expect(manifest.version).toBe(GENAI_PRICES_VERSION);
  const ours = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  expect(ours.dependencies['@pydantic/genai-prices'], 'pin the package to an exact version').toBe(
    GENAI_PRICES_VERSION,
  );
});

test('price drift: the package’s rates for a fixed model list (a version bump shows its changes here)', async () => {
  const lines = [
    `# @pydantic/genai-prices ${GENAI_PRICES_VERSION}: USD per million tokens (tiers: |>start:price)`,
  ];
  for (const [provider, model] of MODELS) {
    const result = calcPrice({ input_tokens: 0, output_tokens: 0 }, model, { providerId: provider });
    if (!result) {
      lines.push(`${provider}/${model}: not in the package`);
      continue;
    }
    const dated = Array.isArray(result.model.prices)
      ? (result.model.prices as ConditionalPrice[])
      : [{ prices: result.model.prices as ModelPrice }];
    for (const entry of dated) {
      const from = entry.constraint?.type === 'start_date' ? entry.constraint.start_date : 'always';
      lines.push(`${provider}/${model} [${result.model.id}] from ${from}: ${formatPrice(entry.prices)}`);
    }
  }
  const text = `${lines.join('\n')}\n`;
  console.log(text);
  await expect(text).toMatchFileSnapshot('./__snapshots__/genai-prices-rates.txt');
});

test('the provider list kept in catalogue.ts is the installed package’s, in its order', () => {
  const require = createRequire(import.meta.url);
  const bundle = readFileSync(
    require.resolve('@pydantic/genai-prices').replace(/index\.cjs$/, 'index.js'),
    'utf8',
  );
  // The bundled data is an array of provider objects, each opening with its id and name.
  const ids = [...bundle.matchAll(/^ {2}\{\n {4}id: "([^"]+)",\n {4}name:/gm)].map((match) => match[1]);
  expect(ids).toEqual(GENAI_PRICES_PROVIDERS);
});

function regexes(match: unknown): string[] {
  if (typeof match !== 'object' || match === null) return [];
  const rule = match as Record<string, unknown>;
  if (Array.isArray(rule.or)) return rule.or.flatMap(regexes);
  if (Array.isArray(rule.and)) return rule.and.flatMap(regexes);
  return typeof rule.regex === 'string' ? [rule.regex] : [];
}

test('every regex in the package’s own data, reviewed (a version bump shows new ones here)', async () => {
  // These run on V8's backtracking engine inside the package (our overrides never do): each is
  // listed with whether RE2 accepts it, so a new pattern gets a look before it ships.
  const lines = [
    `# regexes in @pydantic/genai-prices ${GENAI_PRICES_VERSION} data (provider: where: pattern)`,
  ];
  for (const provider of genaiPricesProviders()) {
    const found: [string, unknown][] = [
      ['model_match', provider.model_match],
      ['provider_match', provider.provider_match],
      ...provider.models.map((model): [string, unknown] => [model.id, model.match]),
    ];
    for (const [where, match] of found) {
      for (const regex of regexes(match)) {
        const re2 = compileModelRegex(regex).ok ? 'RE2 ok' : 'not RE2 (lookaround)';
        lines.push(`${provider.id}: ${where}: ${regex}   [${re2}]`);
      }
    }
  }
  await expect(`${lines.join('\n')}\n`).toMatchFileSnapshot('./__snapshots__/genai-prices-regexes.txt');
});
