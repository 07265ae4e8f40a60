import { expect, test } from 'vitest';
import { backoffDelayMs, MAX_RETRY_AFTER_MS, parseRetryAfterMs, retryDelayMs } from './backoff.js';

const options = { baseMs: 500, maxMs: 30_000 };

test('the backoff doubles per attempt, with jitter inside its upper half, up to the cap', () => {
  expect(backoffDelayMs(1, options, 0)).toBe(250);
  expect(backoffDelayMs(1, options, 0.999_999)).toBe(500);
  expect(backoffDelayMs(2, options, 0)).toBe(500);
  expect(backoffDelayMs(4, options, 0.5)).toBe(3000);
  expect(backoffDelayMs(30, options, 0.999_999)).toBe(30_000);
  expect(backoffDelayMs(30, options, 0)).toBe(15_000);
});

test('Retry-After is read as seconds or as an HTTP date, and clamped', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  expect(parseRetryAfterMs('7', now)).toBe(7000);
  expect(parseRetryAfterMs(' 1.5 ', now)).toBe(1500);
  expect(parseRetryAfterMs(new Date(now + 20_000).toUTCString(), now)).toBe(20_000);
  expect(parseRetryAfterMs(new Date(now - 20_000).toUTCString(), now)).toBe(0);
  expect(parseRetryAfterMs('99999', now)).toBe(MAX_RETRY_AFTER_MS);
  expect(parseRetryAfterMs('soon', now)).toBeUndefined();
  expect(parseRetryAfterMs(null, now)).toBeUndefined();
  expect(parseRetryAfterMs('', now)).toBeUndefined();
});

test('a retry never comes sooner than Retry-After asks, nor sooner than the backoff', () => {
  expect(retryDelayMs(1, options, 0, 10_000)).toBe(10_000);
  expect(retryDelayMs(8, options, 0, 1000)).toBe(15_000);
  expect(retryDelayMs(2, options, 0, undefined)).toBe(500);
});
