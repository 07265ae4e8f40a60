import { describe, expect, test } from 'vitest';
import type { BudgetWindowSpec } from '../storage/store.js';
import {
  counterBucketMs,
  describeWindow,
  HOUR_MS,
  historyStartMs,
  hoursOfWeek,
  QUARTER_HOUR_MS,
  windowAt,
} from './window.js';

const at = (iso: string) => Date.parse(iso);
const span = (spec: BudgetWindowSpec, iso: string) => {
  const window = windowAt(spec, at(iso));
  return [new Date(window.startMs).toISOString(), new Date(window.endMs).toISOString()];
};

describe('calendar windows', () => {
  test('a UTC month ends at the last millisecond before the 1st, leap February included', () => {
    const month: BudgetWindowSpec = { kind: 'month', timeZone: 'UTC' };
    expect(span(month, '2026-01-31T23:59:59.999Z')).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
    ]);
    expect(span(month, '2026-02-01T00:00:00.000Z')).toEqual([
      '2026-02-01T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
    expect(span(month, '2028-02-29T23:59:59.999Z')).toEqual([
      '2028-02-01T00:00:00.000Z',
      '2028-03-01T00:00:00.000Z',
    ]);
    expect(span(month, '2026-12-31T23:00:00.000Z')).toEqual([
      '2026-12-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
    ]);
  });

  test('a New York month that contains the DST change is 743 hours long', () => {
    const [start, end] = span({ kind: 'month', timeZone: 'America/New_York' }, '2026-03-15T12:00:00Z');
    expect([start, end]).toEqual(['2026-03-01T05:00:00.000Z', '2026-04-01T04:00:00.000Z']);
  });

  test('Paris days are 23 and 25 hours long on the DST changes', () => {
    const day: BudgetWindowSpec = { kind: 'day', timeZone: 'Europe/Paris' };
    expect(span(day, '2026-03-29T12:00:00Z')).toEqual([
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T22:00:00.000Z',
    ]);
    expect(span(day, '2026-10-25T12:00:00Z')).toEqual([
      '2026-10-24T22:00:00.000Z',
      '2026-10-25T23:00:00.000Z',
    ]);
    // The last millisecond of the long day is still in it.
    expect(span(day, '2026-10-25T22:59:59.999Z')[0]).toBe('2026-10-24T22:00:00.000Z');
  });

  test('a Santiago day whose midnight does not exist starts when the clock jumps to 01:00', () => {
    expect(span({ kind: 'day', timeZone: 'America/Santiago' }, '2026-09-06T12:00:00Z')).toEqual([
      '2026-09-06T04:00:00.000Z',
      '2026-09-07T03:00:00.000Z',
    ]);
  });

  test('an ISO week starts on Monday at local midnight (Tokyo: Sunday 15:00 UTC)', () => {
    expect(span({ kind: 'week', timeZone: 'Asia/Tokyo' }, '2026-11-22T16:00:00Z')).toEqual([
      '2026-11-22T15:00:00.000Z',
      '2026-11-29T15:00:00.000Z',
    ]);
    expect(span({ kind: 'week', timeZone: 'UTC' }, '2026-11-22T23:59:59.999Z')[0]).toBe(
      '2026-11-16T00:00:00.000Z',
    );
  });

  test('half-hour zones get quarter-hour counters; whole-hour zones hourly ones', () => {
    const kolkata: BudgetWindowSpec = { kind: 'month', timeZone: 'Asia/Kolkata' };
    expect(span(kolkata, '2026-11-30T18:29:59.999Z')).toEqual([
      '2026-10-31T18:30:00.000Z',
      '2026-11-30T18:30:00.000Z',
    ]);
    expect(span(kolkata, '2026-11-30T18:30:00.000Z')[0]).toBe('2026-11-30T18:30:00.000Z');
    const now = at('2026-11-20T00:00:00Z');
    expect(counterBucketMs(kolkata, now)).toBe(QUARTER_HOUR_MS);
    expect(counterBucketMs({ kind: 'day', timeZone: 'Asia/Kathmandu' }, now)).toBe(QUARTER_HOUR_MS);
    // Lord Howe is +10:30 in winter and +11 in summer.
    expect(counterBucketMs({ kind: 'day', timeZone: 'Australia/Lord_Howe' }, now)).toBe(QUARTER_HOUR_MS);
    expect(counterBucketMs({ kind: 'month', timeZone: 'America/New_York' }, now)).toBe(HOUR_MS);
    expect(counterBucketMs({ kind: 'rolling', hours: 5 }, now)).toBe(HOUR_MS);
  });
});

describe('rolling windows', () => {
  test('the last N whole hours, the current one included, moving on at each full hour', () => {
    const day: BudgetWindowSpec = { kind: 'rolling', hours: 24 };
    expect(span(day, '2026-11-20T14:35:00Z')).toEqual([
      '2026-11-19T15:00:00.000Z',
      '2026-11-20T15:00:00.000Z',
    ]);
    expect(span(day, '2026-11-20T14:59:59.999Z')[0]).toBe('2026-11-19T15:00:00.000Z');
    expect(span(day, '2026-11-20T15:00:00.000Z')[0]).toBe('2026-11-19T16:00:00.000Z');
    expect(span({ kind: 'rolling', hours: 24 * 7 }, '2026-03-01T00:10:00Z')[0]).toBe(
      '2026-02-22T01:00:00.000Z',
    );
  });

  test('history reaches four weeks back, or the whole window when it is longer', () => {
    const now = at('2026-11-20T14:35:00Z');
    expect(historyStartMs({ kind: 'rolling', hours: 24 }, now)).toBe(at('2026-10-23T00:00:00Z'));
    expect(historyStartMs({ kind: 'rolling', hours: 24 * 60 }, now)).toBe(at('2026-09-21T15:00:00Z'));
  });

  test('described for people', () => {
    expect(describeWindow({ kind: 'rolling', hours: 168 })).toBe('rolling 7 days');
    expect(describeWindow({ kind: 'rolling', hours: 1 })).toBe('rolling 1 hour');
    expect(describeWindow({ kind: 'week', timeZone: 'UTC' })).toBe('ISO week in UTC');
  });
});

describe('hours of the week', () => {
  test('are local, Monday 00:00 = 0, and follow a DST change inside the day', () => {
    // Sunday 2026-03-29 00:00 UTC is 01:00 Paris (CET); at 01:00 UTC Paris jumps to 03:00 CEST.
    const hours = hoursOfWeek({ kind: 'day', timeZone: 'Europe/Paris' }, at('2026-03-29T00:00:00Z'), 3);
    expect([...hours]).toEqual([6 * 24 + 1, 6 * 24 + 3, 6 * 24 + 4]);
    const utc = hoursOfWeek({ kind: 'rolling', hours: 1 }, at('2026-11-16T00:00:00Z'), 170);
    expect(utc[0]).toBe(0);
    expect(utc[167]).toBe(167);
    expect(utc[168]).toBe(0);
  });
});
