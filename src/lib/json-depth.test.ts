import { describe, expect, test } from 'vitest';
import { jsonTextDeeperThan, valueDeeperThan } from './json-depth.js';

const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const arrays = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('jsonTextDeeperThan', () => {
  test('counts objects and arrays, not their contents', () => {
    expect(jsonTextDeeperThan('1', 0)).toBe(false);
    expect(jsonTextDeeperThan('{}', 0)).toBe(true);
    expect(jsonTextDeeperThan(nested(64), 64)).toBe(false);
    expect(jsonTextDeeperThan(nested(65), 64)).toBe(true);
    expect(jsonTextDeeperThan(arrays(65), 64)).toBe(true);
    expect(jsonTextDeeperThan(`{"a":[{"b":[]}],"c":${nested(3)}}`, 4)).toBe(false);
    expect(jsonTextDeeperThan(`{"a":[{"b":[]}],"c":${nested(4)}}`, 4)).toBe(true);
  });

  test('brackets inside strings, with escaped quotes and backslashes, do not count', () => {
    const text = JSON.stringify({ s: `${'['.repeat(200)}"\\{{{`, t: '\\', u: '"[[[' });
    expect(jsonTextDeeperThan(text, 1)).toBe(false);
    expect(jsonTextDeeperThan(JSON.stringify({ k: '\\"', d: [[[]]] }), 3)).toBe(true);
  });

  test('5,000 and 500,000 levels are answered without recursion', () => {
    expect(jsonTextDeeperThan(nested(5000), 64)).toBe(true);
    expect(jsonTextDeeperThan(arrays(500_000), 64)).toBe(true);
  });
});

describe('valueDeeperThan', () => {
  test('matches the text check on parsed values', () => {
    for (const [text, max] of [
      ['1', 0],
      ['{}', 0],
      ['{}', 1],
      [nested(16), 16],
      [nested(17), 16],
      [`[1,{"a":[2,[3]]},"x"]`, 3],
      [`[1,{"a":[2,[3]]},"x"]`, 4],
    ] as const) {
      expect(valueDeeperThan(JSON.parse(text), max), text).toBe(jsonTextDeeperThan(text, max));
    }
  });

  test('a value nested 100,000 levels is answered without recursion', () => {
    expect(valueDeeperThan(JSON.parse(nested(100_000)), 32)).toBe(true);
  });
});
