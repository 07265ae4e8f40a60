/**
 * Override-regex benchmark: what matching a model name against N price-override regexes adds to
 * pricing one ingested record, in microseconds, on the linear-time engine (re2js).
 *
 *   npx tsx bench/override-regexes.ts                       # N = 0, 10, 100, 500; 5 rounds
 *   npx tsx bench/override-regexes.ts --names 2000 --rounds 3
 *
 * A record whose (provider, model, day) the engine has priced before is a cache hit and matches no
 * regex at all; the figures below are the worst case, every record a model name never seen
 * (cache miss), so each walks every override regex, then the overlay and the package data:
 *   typical    names like "acme-model-123", no override matches (all N regexes tried)
 *   hostile    "a" x 199 + "!" against the N regexes plus the five catastrophic patterns of
 *              issue 16 (which a backtracking engine takes minutes on)
 * The regexes are realistic ones, `^house-<i>-\d{4}-\d{2}-\d{2}$` (27-28 RE2 instructions each).
 * Last, what inferring the provider of a record sent without one adds (infer-provider.ts): for a
 * never-seen name (every rule and the catalogue index) and for a name seen before (a map lookup).
 */
import { createPricingEngine, type OverrideLayer } from '../src/pricing/pricing-engine.js';
import type { PriceQuery } from '../src/pricing/types.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const NAMES = option('names', 1000);
const ROUNDS = option('rounds', 5);
const HOSTILE = ['^([a-z0-9]|[a-z])*-mini$', '(a|a)*$', '(\\w|a)*b', 'a*a*a*a*a*a*b', '.*.*.*.*.*.*='];

function layer(count: number, hostile: boolean): OverrideLayer[] {
  const entries = Array.from({ length: count }, (_, i) => ({
    id: `house-${i}`,
    match: { regex: `^house-${i}-\\d{4}-\\d{2}-\\d{2}$` },
    prices: { input_mtok: 1, output_mtok: 2 },
  }));
  if (hostile) {
    HOSTILE.forEach((regex, i) => {
      entries.push({ id: `hostile-${i}`, match: { regex }, prices: { input_mtok: 1, output_mtok: 2 } });
    });
  }
  return [{ name: 'override-db', version: 'v1', document: { openai: entries } }];
}

function query(model: string): PriceQuery {
  return {
    provider: 'openai',
    model,
    atMs: Date.UTC(2026, 10, 1),
    usage: {
      promptTokens: 1000,
      completionTokens: 100,
      totalTokens: 1100,
      cachedTokens: 0,
      cacheWriteTokens: 0,
      cacheWriteExtendedTokens: 0,
      reasoningTokens: 0,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
    },
    serviceTier: null,
    batch: false,
    completionWindow: null,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function measure(count: number, hostile: boolean): number {
  const perName: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    // A new engine per round: every name is a cache miss.
    const engine = createPricingEngine({ overrides: layer(count, hostile) });
    const names = Array.from({ length: NAMES }, (_, i) =>
      hostile ? `${'a'.repeat(195)}${String(i).padStart(4, '0')}!` : `acme-model-${round}-${i}`,
    );
    const started = performance.now();
    for (const name of names) engine.price(query(name));
    perName.push(((performance.now() - started) * 1000) / NAMES);
  }
  return median(perName);
}

measure(10, true); // warm-up: JIT and the package's data
console.log(`pricing one record whose model name was never seen (cache miss), median of ${ROUNDS} rounds:`);
console.log('override regexes | typical name | hostile name (+5 catastrophic patterns)');
for (const count of [0, 10, 100, 500]) {
  const typical = measure(count, false);
  const hostile = measure(count, true);
  console.log(
    `${String(count).padStart(16)} | ${typical.toFixed(1).padStart(9)} us | ${hostile.toFixed(1).padStart(9)} us`,
  );
}
const engine = createPricingEngine({ overrides: layer(500, true) });
engine.price(query('gpt-4o-mini'));
const started = performance.now();
for (let i = 0; i < 100_000; i += 1) engine.price(query('gpt-4o-mini'));
console.log(
  `a model seen before today (cache hit), 505 regexes: ${(((performance.now() - started) * 1000) / 100_000).toFixed(2)} us`,
);

const inference = createPricingEngine({ overrides: layer(100, true) });
inference.inferProvider('llama-3.3-70b-versatile', 'openai'); // builds the catalogue index once
const inferred: number[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  const begin = performance.now();
  for (let i = 0; i < NAMES; i += 1) inference.inferProvider(`acme-model-${round}-${i}`, 'openai');
  inferred.push(((performance.now() - begin) * 1000) / NAMES);
}
const seenBegin = performance.now();
for (let i = 0; i < 100_000; i += 1) inference.inferProvider('claude-sonnet-4', 'openai');
console.log(
  `provider inference, never-seen name: ${median(inferred).toFixed(1)} us; seen before: ${(((performance.now() - seenBegin) * 1000) / 100_000).toFixed(2)} us`,
);
