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
