import { expect, test } from 'vitest';
import { compileScope, describeScope, scopeFilter } from './scope.js';
import { thresholdAmount, verdictFor, warnAmount } from './verdict.js';

test('a threshold is reached at the exact nano-dollar, rounding up, for any size of limit', () => {
  expect(thresholdAmount(1_000_000, 8000)).toBe(800_000);
  expect(thresholdAmount(3, 5000)).toBe(2);
  expect(thresholdAmount(999_999_999_999_999, 8000)).toBe(800_000_000_000_000);
  expect(thresholdAmount(1_000_000, 12_050)).toBe(1_205_000);
});

test('warn starts at the highest threshold below 100 %; none below 100 % means no warn', () => {
  expect(warnAmount(1000, [5000, 8000, 10_000])).toBe(800);
  expect(warnAmount(1000, [10_000, 12_000])).toBeNull();
  expect(verdictFor(799, 1000, 800)).toBe('ok');
  expect(verdictFor(800, 1000, 800)).toBe('warn');
  expect(verdictFor(1000, 1000, 800)).toBe('exceeded');
  expect(verdictFor(999, 1000, null)).toBe('ok');
});

test('an empty scope matches every row; fields combine with AND', () => {
  const row = { ingestTokenId: 3, provider: 'openai', model: 'gpt-4o-mini', user: 'u1', tags: { team: 'a' } };
  expect(compileScope({})(row)).toBe(true);
  expect(compileScope({ tokenId: 3, modelPrefix: 'gpt-4o' })(row)).toBe(true);
  expect(compileScope({ tokenId: 3, model: 'gpt-4o' })(row)).toBe(false);
  expect(compileScope({ tags: [{ key: 'team', value: 'a' }], user: 'u1', provider: 'openai' })(row)).toBe(
    true,
  );
  expect(compileScope({ tags: [{ key: 'team', value: 'b' }] })(row)).toBe(false);
  expect(compileScope({ user: 'u1' })({ ...row, user: null })).toBe(false);
  expect(describeScope({ tokenId: 3, modelPrefix: 'gpt-4o' }, () => 'checkout')).toBe(
    'token checkout (3), model gpt-4o*',
  );
  expect(scopeFilter({ tokenId: 3, modelPrefix: 'x', tags: [{ key: 'k', value: 'v' }] })).toEqual({
    ingestTokenId: 3,
    tags: [{ key: 'k', value: 'v' }],
  });
});
