import { expect, test } from 'vitest';
import { isValidTimeZone, Zone } from './zoned-time.js';

const iso = (ms: number) => new Date(ms).toISOString();

test('time zone names are validated with Intl', () => {
  expect(isValidTimeZone('UTC')).toBe(true);
  expect(isValidTimeZone('Europe/Paris')).toBe(true);
  expect(isValidTimeZone('Asia/Kolkata')).toBe(true);
  expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
  expect(isValidTimeZone('')).toBe(false);
  expect(() => new Zone('Nowhere/Land')).toThrow(RangeError);
});

test('offsets follow DST, half-hour and quarter-hour zones', () => {
  expect(new Zone('UTC').offsetAt(Date.UTC(2025, 0, 1))).toBe(0);
  expect(new Zone('America/New_York').offsetAt(Date.UTC(2025, 0, 1))).toBe(-5 * 3_600_000);
  expect(new Zone('America/New_York').offsetAt(Date.UTC(2025, 6, 1))).toBe(-4 * 3_600_000);
  expect(new Zone('Asia/Kolkata').offsetAt(Date.UTC(2025, 0, 1))).toBe(5.5 * 3_600_000);
  expect(new Zone('Asia/Kathmandu').offsetAt(Date.UTC(2025, 0, 1))).toBe(5.75 * 3_600_000);
});

test('New York days around the spring and autumn DST changes are 23 and 25 hours long', () => {
  const zone = new Zone('America/New_York');
  const spring = zone.floor('day', Date.UTC(2025, 2, 9, 12));
  expect(iso(spring)).toBe('2025-03-09T05:00:00.000Z');
  expect(zone.next('day', spring) - spring).toBe(23 * 3_600_000);
  const autumn = zone.floor('day', Date.UTC(2025, 10, 2, 12));
  expect(iso(autumn)).toBe('2025-11-02T04:00:00.000Z');
  expect(zone.next('day', autumn) - autumn).toBe(25 * 3_600_000);
});

test('the repeated hour of an autumn DST change is two hour buckets', () => {
  const zone = new Zone('America/New_York');
  const starts = zone.buckets('hour', Date.UTC(2025, 10, 2, 4), Date.UTC(2025, 10, 2, 8), 100) ?? [];
  expect(starts.map(iso)).toEqual([
    '2025-11-02T04:00:00.000Z',
    '2025-11-02T05:00:00.000Z',
    '2025-11-02T06:00:00.000Z',
    '2025-11-02T07:00:00.000Z',
  ]);
});

test('Kolkata days start at 18:30 UTC the day before', () => {
  const zone = new Zone('Asia/Kolkata');
  const starts = zone.buckets('day', Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 3), 10) ?? [];
  expect(starts.map(iso)).toEqual([
    '2024-12-31T18:30:00.000Z',
    '2025-01-01T18:30:00.000Z',
    '2025-01-02T18:30:00.000Z',
  ]);
});

test('a day whose midnight does not exist starts when the clock jumps (Santiago, September 2025)', () => {
  const zone = new Zone('America/Santiago');
  const start = zone.floor('day', Date.UTC(2025, 8, 7, 12));
  expect(iso(start)).toBe('2025-09-07T04:00:00.000Z');
  expect(iso(zone.next('day', start))).toBe('2025-09-08T03:00:00.000Z');
  expect(iso(zone.floor('day', Date.UTC(2025, 8, 7, 3, 59)))).toBe('2025-09-06T04:00:00.000Z');
});

test('weeks start on Monday and months on the first, local time', () => {
  const paris = new Zone('Europe/Paris');
  expect(iso(paris.floor('week', Date.UTC(2025, 0, 15, 12)))).toBe('2025-01-12T23:00:00.000Z');
  expect(iso(paris.floor('month', Date.UTC(2025, 6, 15)))).toBe('2025-06-30T22:00:00.000Z');
  expect(iso(paris.next('month', paris.floor('month', Date.UTC(2025, 9, 15))))).toBe(
    '2025-10-31T23:00:00.000Z',
  );
  const utc = new Zone('UTC');
  expect(iso(utc.floor('week', Date.UTC(2025, 0, 5, 23)))).toBe('2024-12-30T00:00:00.000Z');
});

test('buckets cover a range contiguously and refuse to exceed the cap', () => {
  const zone = new Zone('Australia/Adelaide');
  const start = Date.UTC(2025, 0, 1);
  const end = Date.UTC(2026, 0, 1);
  const days = zone.buckets('day', start, end, 1000) ?? [];
  expect(days.length).toBe(366);
  for (const [i, day] of days.entries()) {
    if (i > 0) expect(day).toBe(zone.next('day', days[i - 1] ?? 0));
  }
  expect(zone.buckets('hour', start, end, 1000)).toBeUndefined();
});
