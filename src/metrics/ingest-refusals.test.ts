import { expect, test } from 'vitest';
import { IngestRefusals } from './ingest-refusals.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 30);
const MINUTE = 60_000;
const none = { rate_limited: 0, validation_error: 0, unknown_token: 0, inactive_token: 0 };

test('counts refusals of the current minute and the 59 before it, by the given clock', () => {
  const refusals = new IngestRefusals();
  expect(refusals.summary(T0)).toEqual({
    lastHour: none,
    lastRateLimitedAtMs: null,
    lastRateLimitedTokenLabel: null,
  });
  refusals.record(T0, 'rate_limited', 'a');
  refusals.record(T0 + 10 * MINUTE, 'rate_limited', 'b', 3);
  expect(refusals.summary(T0 + 10 * MINUTE)).toEqual({
    lastHour: { ...none, rate_limited: 4 },
    lastRateLimitedAtMs: T0 + 10 * MINUTE,
    lastRateLimitedTokenLabel: 'b',
  });
  expect(refusals.summary(T0 + 59 * MINUTE).lastHour.rate_limited).toBe(4);
  expect(refusals.summary(T0 + 60 * MINUTE).lastHour.rate_limited).toBe(3);
  expect(refusals.summary(T0 + 70 * MINUTE)).toEqual({
    lastHour: none,
    lastRateLimitedAtMs: T0 + 10 * MINUTE,
    lastRateLimitedTokenLabel: 'b',
  });
});

test('a slot reused an hour later starts from zero', () => {
  const refusals = new IngestRefusals();
  refusals.record(T0, 'rate_limited', 'a', 5);
  refusals.record(T0 + 60 * MINUTE, 'rate_limited', 'a', 1);
  expect(refusals.summary(T0 + 60 * MINUTE).lastHour.rate_limited).toBe(1);
});

test('every reason is counted apart; only a rate-limit refusal sets the last rate-limited token', () => {
  const refusals = new IngestRefusals();
  refusals.record(T0, 'rate_limited', 'checkout');
  refusals.record(T0 + MINUTE, 'validation_error', null, 2);
  refusals.record(T0 + MINUTE, 'unknown_token', null);
  refusals.record(T0 + 2 * MINUTE, 'inactive_token', 'old-service', 4);
  expect(refusals.summary(T0 + 2 * MINUTE)).toEqual({
    lastHour: { rate_limited: 1, validation_error: 2, unknown_token: 1, inactive_token: 4 },
    lastRateLimitedAtMs: T0,
    lastRateLimitedTokenLabel: 'checkout',
  });
  expect(refusals.summary(T0 + 61 * MINUTE).lastHour).toEqual({ ...none, inactive_token: 4 });
});
