import { expect, test } from 'vitest';
import { formatIsoTime, parseIsoTime } from './time.js';

test('dates and date-times with Z, offsets or none parse to UTC instants', () => {
  expect(parseIsoTime('2024-01-15')).toEqual({ ms: Date.UTC(2024, 0, 15), dateOnly: true });
  expect(parseIsoTime('2024-01-15T10:30:00Z')?.ms).toBe(Date.UTC(2024, 0, 15, 10, 30));
  expect(parseIsoTime('2024-01-15T10:30:00+00:00')?.ms).toBe(Date.UTC(2024, 0, 15, 10, 30));
  expect(parseIsoTime('2024-01-15T10:30:00-05:00')?.ms).toBe(Date.UTC(2024, 0, 15, 15, 30));
  expect(parseIsoTime('2024-01-15T10:30:00+0530')?.ms).toBe(Date.UTC(2024, 0, 15, 5, 0));
  expect(parseIsoTime('2024-01-15 10:30')?.ms).toBe(Date.UTC(2024, 0, 15, 10, 30));
  expect(parseIsoTime('2024-01-15T10:30:00.123456Z')?.ms).toBe(Date.UTC(2024, 0, 15, 10, 30, 0, 123));
});

test('anything that is not a real ISO-8601 date is refused', () => {
  for (const text of [
    'not-a-date',
    '2024-02-30',
    '2024-13-01T00:00:00Z',
    '2024-01-15T24:00:00Z',
    '15/01/2024',
    '1705314600',
    '',
  ]) {
    expect(parseIsoTime(text), text).toBeUndefined();
  }
});

test('formatting drops zero milliseconds and always says Z', () => {
  expect(formatIsoTime(Date.UTC(2024, 0, 15, 10, 30))).toBe('2024-01-15T10:30:00Z');
  expect(formatIsoTime(Date.UTC(2024, 0, 15, 10, 30, 0, 500))).toBe('2024-01-15T10:30:00.500Z');
});

test('formatIsoTime agrees with toISOString for any instant, in or out of time order', () => {
  let seed = 7;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const samples = [
    0, 999, 1000, 86_399_999, 86_400_000, -1, -86_400_001, 253_402_300_799_999, 253_402_300_800_000,
  ];
  for (let i = 0; i < 5000; i += 1) samples.push(Math.floor((next() - 0.1) * 4e12));
  for (const ms of samples) {
    const iso = new Date(ms).toISOString();
    expect(formatIsoTime(ms)).toBe(iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso);
  }
});
