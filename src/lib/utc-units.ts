/**
 * Fixed UTC calendar units: the bucket sizes of the rollup tables. Every function is exact for any
 * integer millisecond time, before 1970 too. A quarter hour is 15 minutes: every time zone's offset
 * from UTC is a whole number of them, so zones at :30 and :45 have their boundaries on one.
 */
export type UtcUnit = 'quarterHour' | 'hour' | 'day' | 'month';

const MS_PER_QUARTER_HOUR = 900_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

function floorTo(ms: number, size: number): number {
  return ms - (((ms % size) + size) % size);
}

/** Start of the unit that contains `ms`. */
export function floorUtc(unit: UtcUnit, ms: number): number {
  switch (unit) {
    case 'quarterHour':
      return floorTo(ms, MS_PER_QUARTER_HOUR);
    case 'hour':
      return floorTo(ms, MS_PER_HOUR);
    case 'day':
      return floorTo(ms, MS_PER_DAY);
    case 'month': {
      const date = new Date(ms);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    }
  }
}

/** `ms` moved by `count` units; `ms` must be a unit start. */
export function addUtc(unit: UtcUnit, ms: number, count: number): number {
  switch (unit) {
    case 'quarterHour':
      return ms + count * MS_PER_QUARTER_HOUR;
    case 'hour':
      return ms + count * MS_PER_HOUR;
    case 'day':
      return ms + count * MS_PER_DAY;
    case 'month': {
      const date = new Date(ms);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + count, 1);
    }
  }
}

/** The unit boundary closest to `ms` (the earlier one on a tie). */
export function nearestUtcBoundary(unit: UtcUnit, ms: number): number {
  const floor = floorUtc(unit, ms);
  if (floor === ms) return ms;
  const ceil = addUtc(unit, floor, 1);
  return ms - floor <= ceil - ms ? floor : ceil;
}
