import { expect, test } from 'vitest';
import { countEntries, parseOverridesText, salvageOverrides, validateOverrides } from './price-overrides.js';

function errorsOf(input: unknown): string[] {
  const result = validateOverrides(input);
  if (result.ok) throw new Error('expected the overrides to be refused');
  return result.errors;
}

test('a YAML overrides file in the package’s shape is accepted and normalised', () => {
  const result = parseOverridesText(`
# negotiated rates
openai:
  - id: gpt-6.2-sol
    match: { or: [ { equals: gpt-6.2-sol }, { regex: '^gpt-6\\.2-sol-\\d{4}-\\d{2}-\\d{2}$' } ] }
    prices:
      - prices: { input_mtok: { base: 2, tiers: [ { start: 272000, price: 4 } ] }, cache_read_mtok: 0.10, output_mtok: 10 }
      - constraint: { start_date: '2027-01-01' }
        prices: { input_mtok: 3, output_mtok: 15 }
    source: https://developers.openai.com/api/docs/models/gpt-6.2-sol
  - id: my-deployment
    prices: { input_mtok: 1, output_mtok: 2 }
`);
  expect(result.ok).toBe(true);
  if (!result.ok) return;
  expect(countEntries(result.document)).toBe(2);
  const [first, second] = result.document.openai ?? [];
  expect(first?.prices).toEqual([
    {
      prices: {
        input_mtok: { base: 2, tiers: [{ start: 272000, price: 4 }] },
        cache_read_mtok: 0.1,
        output_mtok: 10,
      },
    },
    {
      constraint: { type: 'start_date', start_date: '2027-01-01' },
      prices: { input_mtok: 3, output_mtok: 15 },
    },
  ]);
  expect(second?.match).toEqual({ equals: 'my-deployment' });
  expect(result.document.openai?.map((entry) => entry.id)).toEqual(['gpt-6.2-sol', 'my-deployment']);
});

test('JSON is accepted too, and an empty file means no overrides', () => {
  expect(parseOverridesText('{"anthropic": [{"id": "claude-x", "prices": {"input_mtok": 1}}]}').ok).toBe(
    true,
  );
  expect(parseOverridesText('')).toEqual({ ok: true, document: {} });
  expect(parseOverridesText('# nothing yet\n')).toEqual({ ok: true, document: {} });
});

test('a syntax error is reported with where it is', () => {
  const result = parseOverridesText('openai:\n  - id: x\n    prices: { input_mtok: 1\n');
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.errors[0]).toMatch(/^not valid YAML or JSON: .*line/);
  const duplicate = parseOverridesText('openai: []\nopenai: []\n');
  expect(duplicate.ok).toBe(false);
});

test('every error names the provider, the index and the id of the entry at fault', () => {
  const errors = errorsOf({
    openai: [
      { id: 'good', prices: { input_mtok: 1, output_mtok: 2 } },
      { id: 'negative', prices: { input_mtok: -1 } },
      { id: 'typo', prices: { input_mtk: 1, output_mtok: 2 } },
      { id: 'bad-regex', match: { regex: '(' }, prices: { input_mtok: 1 } },
      { id: 'lookahead', match: { regex: '^(?!gpt-4)gpt' }, prices: { input_mtok: 1 } },
      {
        id: 'fine-regex',
        match: { regex: '^gpt-6\\.2-sol-\\d{4}-\\d{2}-\\d{2}$' },
        prices: { input_mtok: 1 },
      },
    ],
    anthropic: [{ prices: { input_mtok: 1 } }],
  });
  expect(errors).toEqual([
    'openai[1] negative: prices.input_mtok must be a number from 0 to 1000000 (USD per million; got -1)',
    expect.stringMatching(/^openai\[2\] typo: prices\.input_mtk is not a price key this service bills/),
    'openai[3] bad-regex: match.regex "(" is not accepted by the linear-time (RE2) regex engine: missing closing ): `(` (lookahead, lookbehind, backreferences and possessive quantifiers are not supported)',
    'openai[4] lookahead: match.regex "^(?!gpt-4)gpt" is not accepted by the linear-time (RE2) regex engine: invalid or unsupported Perl syntax: `(?!` (lookahead, lookbehind, backreferences and possessive quantifiers are not supported)',
    'anthropic[0]: id must be a non-empty string of at most 200 characters',
  ]);
});

test('dated prices must be real dates in ascending order, each after the first with a start date', () => {
  const errors = errorsOf({
    openai: [
      {
        id: 'dated',
        prices: [
          { prices: { input_mtok: 1 } },
          { prices: { input_mtok: 2 } },
          { constraint: { type: 'start_date', start_date: '2026-02-30' }, prices: { input_mtok: 3 } },
          { constraint: { start_date: '2026-05-01' }, prices: { input_mtok: 3 } },
          { constraint: { start_date: '2026-04-01' }, prices: { input_mtok: 3 } },
          { constraint: { type: 'time_of_date', start_date: '2026-06-01' }, prices: { input_mtok: 3 } },
        ],
      },
    ],
  });
  expect(errors).toEqual([
    'openai[0] dated: prices[1].constraint is required: only the first entry may have no start date',
    'openai[0] dated: prices[2].constraint.start_date must be a date like 2027-01-01 (got "2026-02-30")',
    "openai[0] dated: prices[4].constraint.start_date must be after the previous entry's (2026-05-01)",
    'openai[0] dated: prices[5].constraint.type must be start_date (time-of-day prices are not supported here)',
  ]);
});

test('tiers need ascending whole-number starts and valid prices', () => {
  const errors = errorsOf({
    openai: [
      {
        id: 'tiered',
        prices: {
          input_mtok: {
            base: 1,
            tiers: [
              { start: 1000, price: 2 },
              { start: 1000, price: 3 },
              { start: 1.5, price: 1 },
            ],
          },
          output_mtok: { base: 1, tiers: [{ start: 10, cost: 2 }] },
          cache_read_mtok: { base: 1 },
        },
      },
    ],
  });
  expect(errors).toEqual([
    "openai[0] tiered: prices.input_mtok.tiers[1].start must be greater than the previous tier's start (1000)",
    'openai[0] tiered: prices.input_mtok.tiers[2].start must be a whole number of input tokens (got 1.5)',
    'openai[0] tiered: prices.output_mtok.tiers[0] must be { start, price }',
    'openai[0] tiered: prices.cache_read_mtok must be a number or { base, tiers: [{ start, price }] } (got {"base":1})',
  ]);
});

test('the package’s own consistency rules are applied to each entry', () => {
  const errors = errorsOf({
    openai: [{ id: 'lonely-1h', prices: { input_mtok: 1, cache_write_1h_mtok: 2 } }],
  });
  expect(errors).toEqual([
    'openai[0] lonely-1h: Missing ancestor price key cache_write_mtok for cache_write_1h_mtok',
  ]);
});

test('shape errors: not an object, a bad provider id, a non-list, unknown fields, duplicates, a bad match', () => {
  expect(errorsOf([1, 2])).toEqual(['price overrides must be an object of provider id -> list of models']);
  expect(
    errorsOf({
      'Open AI': [],
      google: {},
      openai: [
        'gpt-4o',
        { id: 'a', prices: { input_mtok: 1 }, colour: 'red' },
        { id: 'dup', prices: { input_mtok: 1 } },
        { id: 'DUP', prices: { input_mtok: 1 } },
        { id: 'm', match: { equals: 'm', starts_with: 'm' }, prices: { input_mtok: 1 } },
        { id: 'n', match: { or: [] }, prices: { input_mtok: 1 } },
        { id: 'o', match: { like: 'o' }, prices: { output_mtok: 1 } },
        { id: 'p', match: { equals: '' }, prices: { output_mtok: 1 } },
        { id: 'q' },
        { id: 'r', prices: [] },
        { id: 's', prices: { cache_read_mtok: 1 } },
        { id: 't', prices: [{ prices: { input_mtok: 1 }, when: 'now' }] },
        { id: 'u', prices: 'cheap' },
        { id: 'v', note: 5, prices: { input_mtok: 1 } },
      ],
    }),
  ).toEqual([
    '"Open AI" is not a provider id (lower case, like openai, anthropic, google)',
    'google must be a list of models',
    'openai[0] must be an object with id and prices',
    'openai[1] a: colour is not a known field (use id, name, match, prices, source, note)',
    'openai[3] DUP: id DUP appears twice under openai',
    'openai[4] m: match must be an object with exactly one of equals, starts_with, ends_with, contains, regex, and, or',
    'openai[5] n: match.or must be a non-empty list of match rules',
    'openai[6] o: match.like is not a match rule (use equals, starts_with, ends_with, contains, regex, and, or)',
    'openai[7] p: match.equals must be a non-empty string of at most 500 characters',
    'openai[8] q: prices is required',
    'openai[9] r: prices must not be an empty list',
    'openai[10] s: prices must have input_mtok or output_mtok',
    'openai[11] t: prices[0] must be { constraint?: { type: start_date, start_date }, prices }',
    'openai[12] u: prices must be an object of rates like { input_mtok: 2, output_mtok: 8 }',
    'openai[13] v: note must be a string of at most 1000 characters',
  ]);
});

test('deeply nested matches and too many errors are cut short', () => {
  let match: unknown = { equals: 'x' };
  for (let i = 0; i < 10; i += 1) match = { and: [match] };
  expect(errorsOf({ openai: [{ id: 'x', match, prices: { input_mtok: 1 } }] })[0]).toMatch(
    /nested too deeply/,
  );
  const many = errorsOf({
    openai: Array.from({ length: 30 }, (_, i) => ({ id: `m${i}`, prices: { input_mtok: -1 } })),
  });
  expect(many).toHaveLength(21);
  expect(many[20]).toBe('... and 10 more');
});

test('a constraint that is not an object, and too many models, are refused', () => {
  expect(
    errorsOf({
      openai: [
        {
          id: 'c',
          prices: [{ prices: { input_mtok: 1 } }, { constraint: 'later', prices: { input_mtok: 2 } }],
        },
      ],
    }),
  ).toEqual(['openai[0] c: prices[1].constraint must be { type: start_date, start_date: YYYY-MM-DD }']);
  const many = Array.from({ length: 2001 }, (_, i) => ({ id: `m${i}`, prices: { input_mtok: 1 } }));
  expect(errorsOf({ openai: many })).toEqual(['price overrides may have at most 2000 models (got 2001)']);
});

test('a stored document this build refuses in part keeps its valid entries and names the others', () => {
  const salvaged = salvageOverrides({
    openai: [
      { id: 'lookahead', match: { regex: '^(?!gpt)x' }, prices: { input_mtok: 1 } },
      { id: 'fine', match: { regex: '^fine-\\d+$' }, prices: { input_mtok: 1 } },
    ],
  });
  expect(salvaged.document?.openai?.map((entry) => entry.id)).toEqual(['fine']);
  expect(salvaged.refused).toEqual([
    expect.stringMatching(
      /^openai\[0\] lookahead: match\.regex "\^\(\?!gpt\)x" is not accepted by the linear-time \(RE2\) regex engine/,
    ),
  ]);
  expect(salvageOverrides('nonsense')).toEqual({
    document: null,
    refused: ['price overrides must be an object of provider id -> list of models'],
  });
});

test('the regexes of one document have a total size budget, so an unknown name is matched in bounded time', () => {
  // Each compiles to about 405 RE2 instructions: 49 fit in the 20,000 budget, the 50th does not.
  const entries = Array.from({ length: 50 }, (_, index) => ({
    id: `m${index}`,
    match: { regex: `^m${index}[a-z0-9._-]{1,200}` },
    prices: { input_mtok: 1 },
  }));
  const errors = errorsOf({ openai: entries });
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(
    /^openai\[\d+\] m\d+: match: the regexes of all entries up to this one compile to \d+ RE2 instructions, more than the 20000/,
  );
  expect(validateOverrides({ openai: entries.slice(0, 40) }).ok).toBe(true);
});
