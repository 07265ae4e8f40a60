/**
 * Fixed UTC calendar units: the bucket sizes of the rollup tables. Every function is exact for any
 * integer millisecond time, before 1970 too. A quarter hour is 15 minutes: every time zone's offset
 * from UTC is a whole number of them, so zones at :30 and :45 have their boundaries on one.
 */
export type UtcUnit = 'quarterHour' | 'hour' | 'day' | 'month';

/** Length of each unit but the month, whose length varies. */
export const FIXED_UNIT_MS: Readonly<Record<Exclude<UtcUnit, 'month'>, number>> = {
  quarterHour: 900_000,
  hour: 3_600_000,
  day: 86_400_000,
};

function floorTo(ms: number, size: number): number {
  return ms - (((ms % size) + size) % size);
}

/** Start of the unit that contains `ms`. */
export function floorUtc(unit: UtcUnit, ms: number): number {
  switch (unit) {
    case 'quarterHour':
    case 'hour':
    case 'day':
      return floorTo(ms, FIXED_UNIT_MS[unit]);
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
    case 'hour':
    case 'day':
      return ms + count * FIXED_UNIT_MS[unit];
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
