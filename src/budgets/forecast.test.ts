import { describe, expect, test } from 'vitest';
import type { BudgetWindowSpec } from '../storage/store.js';
import { forecast } from './forecast.js';
import { HOUR_MS, windowAt } from './window.js';

const DAY = 24 * HOUR_MS;

/** An hourly series over [startMs, nowMs] (the current hour included) from a rate function. */
function series(startMs: number, nowMs: number, rate: (hourStart: number) => number) {
  const hours = Math.floor((nowMs - startMs) / HOUR_MS) + 1;
  return Float64Array.from({ length: hours }, (_, i) => {
    const at = startMs + i * HOUR_MS;
    const share = at + HOUR_MS > nowMs ? (nowMs - at) / HOUR_MS : 1;
    return rate(at) * share;
  });
}

function run(spec: BudgetWindowSpec, nowMs: number, limit: number, rate: (at: number) => number) {
  const window = windowAt(spec, nowMs);
  const start = Math.min(window.startMs, nowMs - (nowMs % DAY) - 28 * DAY);
  const hourly = series(start, nowMs, rate);
  let spent = 0;
  for (let i = 0; i < hourly.length; i += 1)
    if (start + i * HOUR_MS >= window.startMs) spent += hourly[i] ?? 0;
  return forecast({
    window: spec,
    windowStartMs: window.startMs,
    windowEndMs: window.endMs,
    nowMs,
    spentNanoUsd: spent,
    limitNanoUsd: limit,
    hourlyStartMs: start,
    hourly,
  });
}

describe('known answers', () => {
  test('a constant rate projects exactly, with no band, and reaches the limit on the hour', () => {
    const now = Date.UTC(2026, 10, 20, 12);
    const result = run({ kind: 'month', timeZone: 'UTC' }, now, 600_000, () => 1000);
    expect(result.projectedNanoUsd).toBe(720_000);
    expect([result.lowNanoUsd, result.highNanoUsd]).toEqual([720_000, 720_000]);
    expect(result.atMs).toBe(Date.UTC(2026, 11, 1));
    expect(result.limitReachedAtMs).toBe(now + 132 * HOUR_MS);
    expect(result.hourlyRateNanoUsd).toBe(1000);
  });

  test('mid-hour: the rest of the current hour is projected at its share', () => {
    const now = Date.UTC(2026, 10, 20, 12, 30);
    const result = run({ kind: 'day', timeZone: 'UTC' }, now, 10 ** 9, () => 1000);
    expect(result.projectedNanoUsd).toBe(24_000);
    expect(result.path[0]).toMatchObject({ t: Date.UTC(2026, 10, 20, 13), projected: 13_000 });
  });

  test('a working-hours pattern is learned per hour of the week and projected exactly', () => {
    const workHours = (at: number) => {
      const date = new Date(at);
      const weekday = date.getUTCDay() >= 1 && date.getUTCDay() <= 5;
      return weekday && date.getUTCHours() >= 9 && date.getUTCHours() < 17 ? 1000 : 0;
    };
    // Wednesday 2026-11-18 12:00 UTC: 3 of the day's 8 working hours are spent.
    const day = run({ kind: 'day', timeZone: 'UTC' }, Date.UTC(2026, 10, 18, 12), 10 ** 9, workHours);
    expect(day.season).toBe('hour-of-week');
    expect(day.projectedNanoUsd).toBe(8000);
    // The ISO week: Monday to Wednesday noon spent 19,000; 21,000 to come.
    const week = run({ kind: 'week', timeZone: 'UTC' }, Date.UTC(2026, 10, 18, 12), 30_000, workHours);
    expect(week.projectedNanoUsd).toBe(40_000);
    // 11,000 more: the rest of Wednesday (5,000), then Thursday 09:00-15:00.
    expect(week.limitReachedAtMs).toBe(Date.UTC(2026, 10, 19, 15));
  });

  test('the same pattern in a zone is learned in local hours', () => {
    const tokyoWork = (at: number) => {
      const local = new Date(at + 9 * HOUR_MS);
      return local.getUTCHours() >= 9 && local.getUTCHours() < 17 ? 500 : 0;
    };
    const result = run(
      { kind: 'day', timeZone: 'Asia/Tokyo' },
      Date.UTC(2026, 10, 18, 3),
      10 ** 9,
      tokyoWork,
    );
    // 12:00 in Tokyo: 1,500 spent, 4,000 by the end of the local day.
    expect(result.projectedNanoUsd).toBe(4000);
  });

  test('a rolling window projects one window length ahead, dropping the hours that leave it', () => {
    const now = Date.UTC(2026, 10, 20, 12);
    // A day of history only (no season): 18 hours at 1000, then 6 at 2000; level 1250 an hour. The
    // window is the 24 hours up to the end of the current one: 17 at 1000, 6 at 2000, and now.
    const hourly = Float64Array.from({ length: 25 }, (_, i) => (i < 18 ? 1000 : i < 24 ? 2000 : 0));
    const input = {
      window: { kind: 'rolling', hours: 24 } as const,
      windowStartMs: now - 23 * HOUR_MS,
      windowEndMs: now + HOUR_MS,
      nowMs: now,
      spentNanoUsd: 29_000,
      hourlyStartMs: now - 24 * HOUR_MS,
      hourly,
    };
    const result = forecast({ ...input, limitNanoUsd: 34_000 });
    expect(result.atMs).toBe(now + 24 * HOUR_MS);
    expect(result.projectedNanoUsd).toBe(30_000);
    // After k + 1 hours the window holds 30,250 + 250 k while its 1000-hours leave it.
    expect(result.limitReachedAtMs).toBe(now + 16 * HOUR_MS);
    expect(forecast({ ...input, limitNanoUsd: 35_000 }).limitReachedAtMs).toBeNull();
  });

  test('a scope that started a day ago is projected at its own rate, not diluted by the weeks before it', () => {
    const now = Date.UTC(2026, 10, 20, 12);
    const result = run({ kind: 'month', timeZone: 'UTC' }, now, 10 ** 9, (at) =>
      at >= now - 30 * HOUR_MS ? 1000 : 0,
    );
    expect(result.season).toBe('none');
    expect(result.hourlyRateNanoUsd).toBe(1000);
    expect(result.projectedNanoUsd).toBe(30_000 + 252 * 1000);
  });

  test('a limit already reached reports when it was reached', () => {
    const now = Date.UTC(2026, 10, 20, 12);
    const result = run({ kind: 'month', timeZone: 'UTC' }, now, 240_000, () => 1000);
    expect(result.limitReachedAtMs).toBe(Date.UTC(2026, 10, 11));
  });

  test('no usage at all projects nothing', () => {
    const result = run({ kind: 'month', timeZone: 'UTC' }, Date.UTC(2026, 10, 20, 12), 1000, () => 0);
    expect(result).toMatchObject({
      projectedNanoUsd: 0,
      lowNanoUsd: 0,
      highNanoUsd: 0,
      limitReachedAtMs: null,
    });
  });
});

describe('the range', () => {
  test('holds the final spend about nine times in ten on noisy series', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let inside = 0;
    const trials = 200;
    for (let trial = 0; trial < trials; trial += 1) {
      const now = Date.UTC(2026, 10, 3 + (trial % 20), trial % 24);
      const noise = new Map<number, number>();
      const rate = (at: number) => {
        let value = noise.get(at);
        if (value === undefined) {
          // Gamma-ish noise around 1000 with a daily swing.
          value = 1000 * (1 + 0.5 * Math.sin((2 * Math.PI * (at / HOUR_MS)) / 24)) * (0.4 + 1.2 * random());
          noise.set(at, value);
        }
        return value;
      };
      const window = windowAt({ kind: 'day', timeZone: 'UTC' }, now);
      const result = run({ kind: 'day', timeZone: 'UTC' }, now, 10 ** 12, rate);
      let actual = 0;
      for (let at = window.startMs; at < window.endMs; at += HOUR_MS) actual += rate(at);
      if (actual >= result.lowNanoUsd && actual <= result.highNanoUsd) inside += 1;
    }
    expect(inside / trials).toBeGreaterThan(0.8);
    expect(inside / trials).toBeLessThan(0.99);
  });
});
