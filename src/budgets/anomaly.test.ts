import { expect, test } from 'vitest';
import type { HourlyCost } from '../storage/store.js';
import { baselines, findAnomalies } from './anomaly.js';

const HOUR = 3_600_000;
const NOW_HOUR = Date.UTC(2026, 10, 20, 12);

function history(subject: string, hours: number, cost: (i: number) => number): HourlyCost[] {
  return Array.from({ length: hours }, (_, i) => ({
    subject,
    label: subject,
    hourStart: NOW_HOUR - (hours - i) * HOUR,
    costNanoUsd: cost(i),
  }));
}

const options = { sensitivity: 6, baselineWeeks: 4 };
const now = (subject: string, costNanoUsd: number): HourlyCost => ({
  subject,
  label: subject,
  hourStart: NOW_HOUR,
  costNanoUsd,
});

test('a steady subject: expected is its usual hour, the spread at least half its mean hour', () => {
  const map = baselines(
    history('token:1', 672, () => 1000),
    NOW_HOUR,
    options,
  );
  expect(map.get('token:1')).toEqual({
    subject: 'token:1',
    label: 'token:1',
    expectedNanoUsd: 1000,
    thresholdNanoUsd: 4000,
  });
  expect(findAnomalies(map, [now('token:1', 4000)], NOW_HOUR, { minHourlyNanoUsd: 0 })).toEqual([]);
  expect(findAnomalies(map, [now('token:1', 4001)], NOW_HOUR, { minHourlyNanoUsd: 0 })).toHaveLength(1);
  expect(findAnomalies(map, [now('token:1', 4001)], NOW_HOUR, { minHourlyNanoUsd: 5000 })).toEqual([]);
});

test('the same hour of the week sets the expectation: a busy Friday noon is not an anomaly', () => {
  // Noon hours cost 10x the others, every day.
  const cost = (i: number) => ((NOW_HOUR - (672 - i) * HOUR) % (24 * HOUR) === 12 * HOUR ? 10_000 : 1000);
  const map = baselines(history('model:openai/a', 672, cost), NOW_HOUR, options);
  expect(map.get('model:openai/a')?.expectedNanoUsd).toBe(10_000);
  expect(findAnomalies(map, [now('model:openai/a', 12_000)], NOW_HOUR, { minHourlyNanoUsd: 0 })).toEqual([]);
});

test('a noisy subject needs a bigger jump; a new one (under 24 active hours) has no usual level yet', () => {
  let seed = 3;
  const noise = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * 2000);
  };
  // Uniform on 0-2000 (mean 1000, as the steady subject): a robust sigma near 740, not 500.
  const noisy = baselines(history('token:2', 672, noise), NOW_HOUR, options);
  expect(noisy.get('token:2')?.thresholdNanoUsd ?? 0).toBeGreaterThan(5000);
  const fresh = baselines(
    history('token:3', 23, () => 5000),
    NOW_HOUR,
    options,
  );
  expect(fresh.has('token:3')).toBe(false);
  expect(findAnomalies(fresh, [now('token:3', 10 ** 12)], NOW_HOUR, { minHourlyNanoUsd: 0 })).toEqual([]);
});
