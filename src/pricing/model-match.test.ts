import { calcPrice, type MatchLogic, type ModelInfo } from '@pydantic/genai-prices';
import { expect, test } from 'vitest';
import { genaiPricesModels } from './catalogue.js';
import { compileMatch, compileModelRegex, findModel, priceAt, spellOutDates } from './model-match.js';

/** What the package itself says about one rule and one name (its matcher, through calcPrice). */
function packageMatches(match: MatchLogic, name: string): boolean {
  const provider = {
    id: 'probe',
    name: 'probe',
    api_pattern: '(?!)',
    models: [{ id: 'probe', match, prices: { input_mtok: 1 } }],
  };
  return calcPrice({ input_tokens: 1 }, name, { provider }) !== null;
}

function regexesOf(match: MatchLogic): string[] {
  if ('or' in match) return match.or.flatMap(regexesOf);
  if ('and' in match) return match.and.flatMap(regexesOf);
  return 'regex' in match ? [match.regex] : [];
}

function namesOf(match: MatchLogic): string[] {
  if ('or' in match) return match.or.flatMap(namesOf);
  if ('and' in match) return match.and.flatMap(namesOf);
  const [value] = Object.values(match) as string[];
  return [value ?? ''];
}

test('rules mean what they mean to the package, on every rule of its bundled data that RE2 can compile', () => {
  const models = genaiPricesModels();
  const names = new Set<string>(['', 'gpt-4o', 'GPT-4O-MINI', 'claude-sonnet-4', 'x'.repeat(200)]);
  for (const { info } of models) {
    names.add(info.id);
    for (const name of namesOf(info.match)) {
      names.add(name);
      names.add(`${name}-2025-01-01`);
      names.add(`${name}:ft`);
      names.add(name.toUpperCase());
    }
  }
  const samples = [...names];
  let compared = 0;
  for (const { info } of models) {
    if (!regexesOf(info.match).every((regex) => compileModelRegex(regex).ok)) continue;
    const ours = compileMatch(info.match);
    // A sample of names per rule keeps this fast; every rule still meets its own names.
    const own = namesOf(info.match);
    for (const name of [...own, ...samples.filter((_, index) => index % 97 === compared % 97)]) {
      const lower = name.trim().toLowerCase();
      expect(ours(lower), `${JSON.stringify(info.match)} on ${name}`).toBe(packageMatches(info.match, lower));
    }
    compared += 1;
  }
  expect(compared).toBeGreaterThan(1500);
});

test('string rules ignore case; a regex is searched in the lower-cased name', () => {
  const rule = compileMatch({ or: [{ starts_with: 'GPT-6.2-' }, { regex: '^house-\\d+$' }] });
  expect(rule('gpt-6.2-sol')).toBe(true);
  expect(rule('house-12')).toBe(true);
  expect(rule('house-12x')).toBe(false);
  expect(compileMatch({ regex: '^House' })('house')).toBe(false);
  expect(compileMatch({ and: [{ contains: 'mini' }, { ends_with: '-ft' }] })('x-mini-ft')).toBe(true);
});

test('a compact date in a name is tried again spelled out, as the package does', () => {
  expect(spellOutDates('gpt-4o-20240806')).toBe('gpt-4o-2024-08-06');
  expect(spellOutDates('ft:gpt-4o-20240806:org::x')).toBe('ft:gpt-4o-2024-08-06:org::x');
  expect(spellOutDates('gpt-4o-20240231')).toBe('gpt-4o-20240231');
  const models = [{ info: {} as ModelInfo, matches: compileMatch({ equals: 'gpt-4o-2024-08-06' }) }];
  expect(findModel(models, 'gpt-4o-20240806')).toBe(models[0]);
});

test('the price in force is the last one started, half-open at UTC midnight', () => {
  const info: ModelInfo = {
    id: 'dated',
    match: { equals: 'dated' },
    prices: [
      { prices: { input_mtok: 1 } },
      { constraint: { type: 'start_date', start_date: '2026-01-01' }, prices: { input_mtok: 2 } },
    ],
  };
  expect(priceAt(info, Date.UTC(2025, 11, 31, 23, 59, 59, 999))).toEqual({ input_mtok: 1 });
  expect(priceAt(info, Date.UTC(2026, 0, 1))).toEqual({ input_mtok: 2 });
});
