import { expect, test } from 'vitest';
import { type CoverPiece, coverInterval } from './interval-cover.js';
import { floorUtc } from './utc-units.js';

/** A small deterministic PRNG so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function signedCount(pieces: CoverPiece[], events: number[]): number {
  let total = 0;
  for (const piece of pieces) {
    for (const at of events) if (at >= piece.startMs && at < piece.endMs) total += piece.sign;
  }
  return total;
}

const BASE = Date.UTC(2025, 0, 1);

test('the signed pieces of a cover count every event of the interval exactly once', () => {
  const next = random(42);
  for (let round = 0; round < 300; round += 1) {
    const start = BASE + Math.floor(next() * 400 * 86_400_000);
    const end = start + 1 + Math.floor(next() ** 3 * 420 * 86_400_000);
    const events = Array.from(
      { length: 200 },
      () => start - 40 * 86_400_000 + Math.floor(next() * (end - start + 80 * 86_400_000)),
    );
    events.push(start, end - 1, end, start - 1);
    const pieces = coverInterval(start, end);
    const expected = events.filter((at) => at >= start && at < end).length;
    expect(signedCount(pieces, events)).toBe(expected);
  }
});

test('unit pieces are aligned to UTC units and raw pieces are shorter than an hour', () => {
  const next = random(7);
  for (let round = 0; round < 200; round += 1) {
    const start = BASE + Math.floor(next() * 400 * 86_400_000);
    const end = start + 1 + Math.floor(next() * 60 * 86_400_000);
    for (const piece of coverInterval(start, end)) {
      expect(piece.startMs).toBeLessThan(piece.endMs);
      if (piece.tier === 'raw') expect(piece.endMs - piece.startMs).toBeLessThan(3_600_000);
      else {
        expect(floorUtc(piece.tier, piece.startMs)).toBe(piece.startMs);
        expect(floorUtc(piece.tier, piece.endMs)).toBe(piece.endMs);
      }
    }
  }
});

test('a range of whole months is one month piece', () => {
  expect(coverInterval(Date.UTC(2025, 0, 1), Date.UTC(2026, 1, 1))).toEqual([
    { tier: 'month', startMs: Date.UTC(2025, 0, 1), endMs: Date.UTC(2026, 1, 1), sign: 1 },
  ]);
});

test('a New York day is a UTC day minus five hours plus five hours of the next day', () => {
  const start = Date.UTC(2025, 0, 15, 5);
  const pieces = coverInterval(start, start + 86_400_000);
  expect(pieces).toEqual([
    { tier: 'day', startMs: Date.UTC(2025, 0, 15), endMs: Date.UTC(2025, 0, 16), sign: 1 },
    { tier: 'hour', startMs: Date.UTC(2025, 0, 15), endMs: Date.UTC(2025, 0, 15, 5), sign: -1 },
    { tier: 'hour', startMs: Date.UTC(2025, 0, 16), endMs: Date.UTC(2025, 0, 16, 5), sign: 1 },
  ]);
});

test('a two-hour interval is two hours, not a day minus twenty-two hours', () => {
  expect(coverInterval(Date.UTC(2025, 0, 15, 11), Date.UTC(2025, 0, 15, 13))).toEqual([
    { tier: 'hour', startMs: Date.UTC(2025, 0, 15, 11), endMs: Date.UTC(2025, 0, 15, 13), sign: 1 },
  ]);
});

test('a Kolkata day needs no raw rows: its half-hour edges are quarter hours', () => {
  const start = Date.UTC(2025, 0, 14, 18, 30);
  const pieces = coverInterval(start, start + 86_400_000);
  expect(pieces.filter((piece) => piece.tier === 'raw')).toEqual([]);
  expect(pieces.filter((piece) => piece.tier === 'quarterHour')).toHaveLength(2);
});

test('without the quarter-hour tier a Kolkata day reads raw rows only for the half hours at its edges', () => {
  const start = Date.UTC(2025, 0, 14, 18, 30);
  const raw = coverInterval(start, start + 86_400_000, ['month', 'day', 'hour']).filter(
    (piece) => piece.tier === 'raw',
  );
  expect(raw.reduce((sum, piece) => sum + piece.endMs - piece.startMs, 0)).toBe(3_600_000);
});

test('a Kathmandu day (+05:45) is covered by rollups too', () => {
  const start = Date.UTC(2025, 0, 14, 18, 15);
  const pieces = coverInterval(start, start + 86_400_000);
  expect(pieces.filter((piece) => piece.tier === 'raw')).toEqual([]);
  const covered = pieces.reduce((sum, piece) => sum + piece.sign * (piece.endMs - piece.startMs), 0);
  expect(covered).toBe(86_400_000);
});
