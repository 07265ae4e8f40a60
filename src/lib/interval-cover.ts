import { addUtc, FIXED_UNIT_MS, floorUtc, nearestUtcBoundary, type UtcUnit } from './utc-units.js';

/**
 * Splits a time interval into pieces that pre-aggregated tables can answer: whole UTC months, days,
 * hours and quarter hours, and what is left over ("raw", answered from the rows themselves). Pieces
 * carry a sign: covering Jan 1 - Mar 1 and subtracting Feb 28 - Mar 1 is cheaper than adding 58
 * days, so an edge may be rounded outwards and the difference covered at the next finer unit with a
 * minus sign. The signed sum of the pieces is exactly the interval, whatever its edges (any time
 * zone, any DST rule). Among the covers it considers it returns the one that touches the fewest
 * buckets, counting raw time as ten buckets an hour (raw rows are many and unaggregated).
 */
export type CoverTier = UtcUnit | 'raw';

export interface CoverPiece {
  tier: CoverTier;
  /** Inclusive start, UTC ms. */
  startMs: number;
  /** Exclusive end, UTC ms. */
  endMs: number;
  sign: 1 | -1;
}

/** Coarsest first. */
export const COVER_UNITS: readonly UtcUnit[] = ['month', 'day', 'hour', 'quarterHour'];

const RAW_COST_PER_MS = 10 / 3_600_000;

interface Plan {
  pieces: CoverPiece[];
  cost: number;
}

export function coverInterval(
  startMs: number,
  endMs: number,
  units: readonly UtcUnit[] = COVER_UNITS,
): CoverPiece[] {
  return plan(startMs, endMs, 0, 1, units).pieces;
}

function countUnits(unit: UtcUnit, start: number, end: number): number {
  if (unit !== 'month') return (end - start) / FIXED_UNIT_MS[unit];
  let count = 0;
  for (let at = start; at < end; at = addUtc('month', at, 1)) count += 1;
  return count;
}

function plan(start: number, end: number, level: number, sign: 1 | -1, units: readonly UtcUnit[]): Plan {
  if (start >= end) return { pieces: [], cost: 0 };
  const unit = units[level];
  if (unit === undefined) {
    return {
      pieces: [{ tier: 'raw', startMs: start, endMs: end, sign }],
      cost: (end - start) * RAW_COST_PER_MS,
    };
  }
  const finer = plan(start, end, level + 1, sign, units);
  let best = finer;
  const floorStart = floorUtc(unit, start);
  const floorEnd = floorUtc(unit, end);
  // Candidate edges: inward (floor up / floor down) and nearest; each candidate is exact.
  const startCandidates = new Set([
    floorStart === start ? start : addUtc(unit, floorStart, 1),
    nearestUtcBoundary(unit, start),
  ]);
  const endCandidates = new Set([floorEnd, nearestUtcBoundary(unit, end)]);
  for (const alignedStart of startCandidates) {
    for (const alignedEnd of endCandidates) {
      if (alignedStart >= alignedEnd) continue;
      const candidate = withUnit(start, end, alignedStart, alignedEnd, level, sign, units, unit);
      if (candidate.cost < best.cost) best = candidate;
    }
  }
  return best;
}

function withUnit(
  start: number,
  end: number,
  alignedStart: number,
  alignedEnd: number,
  level: number,
  sign: 1 | -1,
  units: readonly UtcUnit[],
  unit: UtcUnit,
): Plan {
  const flip = sign === 1 ? -1 : 1;
  const head =
    start <= alignedStart
      ? plan(start, alignedStart, level + 1, sign, units)
      : plan(alignedStart, start, level + 1, flip, units);
  const tail =
    end >= alignedEnd
      ? plan(alignedEnd, end, level + 1, sign, units)
      : plan(end, alignedEnd, level + 1, flip, units);
  return {
    pieces: [{ tier: unit, startMs: alignedStart, endMs: alignedEnd, sign }, ...head.pieces, ...tail.pieces],
    cost: countUnits(unit, alignedStart, alignedEnd) + head.cost + tail.cost,
  };
}
