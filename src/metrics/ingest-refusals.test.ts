import { expect, test } from 'vitest';
import { IngestRefusals } from './ingest-refusals.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 30);
const MINUTE = 60_000;

test('counts refusals of the current minute and the 59 before it, by the given clock', () => {
  const refusals = new IngestRefusals();
  expect(refusals.summary(T0)).toEqual({ lastHour: 0, lastAtMs: null, lastTokenLabel: null });
  refusals.record(T0, 'a');
  refusals.record(T0 + 10 * MINUTE, 'b', 3);
  expect(refusals.summary(T0 + 10 * MINUTE)).toEqual({
    lastHour: 4,
    lastAtMs: T0 + 10 * MINUTE,
    lastTokenLabel: 'b',
  });
  expect(refusals.summary(T0 + 59 * MINUTE).lastHour).toBe(4);
  expect(refusals.summary(T0 + 60 * MINUTE).lastHour).toBe(3);
  expect(refusals.summary(T0 + 70 * MINUTE)).toEqual({
    lastHour: 0,
    lastAtMs: T0 + 10 * MINUTE,
    lastTokenLabel: 'b',
  });
});

test('a slot reused an hour later starts from zero', () => {
  const refusals = new IngestRefusals();
  refusals.record(T0, 'a', 5);
  refusals.record(T0 + 60 * MINUTE, 'a', 1);
  expect(refusals.summary(T0 + 60 * MINUTE).lastHour).toBe(1);
});
