/**
 * Calendar arithmetic in an IANA time zone, on top of Intl (no time-zone data of our own). A Zone
 * turns instants (UTC ms) into local bucket boundaries: the start of the local hour, day, week
 * (Monday) or month that contains an instant, and the start of the next one. DST is handled by
 * asking Intl for the offset in force at each instant, so a local day can be 23 or 25 hours long,
 * a day whose midnight does not exist (a DST jump at 00:00) starts when the clock jumps, and a day
 * whose midnight happens twice starts at the first one.
 */
export type CalendarUnit = 'hour' | 'day' | 'week' | 'month';

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;
const OFFSET = /GMT(?:([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat | undefined {
  let formatter = formatters.get(timeZone);
  if (formatter) return formatter;
  try {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  } catch {
    return undefined;
  }
  formatters.set(timeZone, formatter);
  return formatter;
}

/** True when Intl knows the zone (IANA names such as Europe/Paris, and UTC). */
export function isValidTimeZone(timeZone: string): boolean {
  return timeZone.length > 0 && timeZone.length <= 64 && formatterFor(timeZone) !== undefined;
}

function floorTo(ms: number, size: number): number {
  return ms - (((ms % size) + size) % size);
}

export class Zone {
  private readonly formatter: Intl.DateTimeFormat;

  constructor(readonly name: string) {
    const formatter = formatterFor(name);
    if (!formatter) throw new RangeError(`unknown time zone: ${name}`);
    this.formatter = formatter;
  }

  /** Milliseconds to add to a UTC instant to get the local wall-clock time. */
  offsetAt(ms: number): number {
    const match = OFFSET.exec(this.formatter.format(ms));
    if (!match?.[1]) return 0;
    const sign = match[1] === '-' ? -1 : 1;
    const minutes = Number(match[2]) * 60 + Number(match[3] ?? 0);
    return sign * (minutes * MS_PER_MINUTE + Number(match[4] ?? 0) * 1000);
  }

  /**
   * The instant at which the local clock reads `wall` (a wall-clock time written as UTC ms).
   * Twice (DST ends): the first. Never (DST starts): the instant the clock jumps past it.
   */
  instantOf(wall: number): number {
    const before = wall - this.offsetAt(wall - MS_PER_DAY);
    const after = wall - this.offsetAt(wall + MS_PER_DAY);
    const valid = [before, after].filter((at) => at + this.offsetAt(at) === wall);
    if (valid.length > 0) return Math.min(...valid);
    // In a gap: the first instant whose wall time is at or after `wall`.
    let lo = Math.min(before, after);
    let hi = Math.max(before, after);
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (mid + this.offsetAt(mid) >= wall) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Start of the local unit that contains `ms`. */
  floor(unit: CalendarUnit, ms: number): number {
    const wall = ms + this.offsetAt(ms);
    if (unit === 'hour') return ms - (((wall % MS_PER_HOUR) + MS_PER_HOUR) % MS_PER_HOUR);
    const start = this.instantOf(floorWall(unit, wall));
    // A unit starting inside a DST gap starts when the clock jumps, which can be after `ms` only
    // when `ms` itself is before the jump: then `ms` belongs to the previous unit.
    return start <= ms ? start : this.floor(unit, start - 1);
  }

  /** Start of the local unit after the one that starts at `start`. */
  next(unit: CalendarUnit, start: number): number {
    if (unit === 'hour') {
      let next = start + MS_PER_HOUR;
      const wallMinutes = (((next + this.offsetAt(next)) % MS_PER_HOUR) + MS_PER_HOUR) % MS_PER_HOUR;
      // Only zones whose DST shift is not a whole hour (Australia/Lord_Howe) get here.
      if (wallMinutes !== 0) next -= wallMinutes;
      return next > start ? next : start + MS_PER_HOUR;
    }
    const wall = floorWall(unit, start + this.offsetAt(start));
    return this.instantOf(addWall(unit, wall));
  }

  /**
   * Bucket starts of every local unit that overlaps [startMs, endMs), oldest first; the first one
   * may start before startMs. Returns undefined when there would be more than `max`.
   */
  buckets(unit: CalendarUnit, startMs: number, endMs: number, max: number): number[] | undefined {
    const starts: number[] = [];
    for (let at = this.floor(unit, startMs); at < endMs; at = this.next(unit, at)) {
      if (starts.length >= max) return undefined;
      starts.push(at);
    }
    return starts;
  }
}

function floorWall(unit: Exclude<CalendarUnit, 'hour'>, wall: number): number {
  const day = floorTo(wall, MS_PER_DAY);
  if (unit === 'day') return day;
  const date = new Date(day);
  if (unit === 'week') return day - ((date.getUTCDay() + 6) % 7) * MS_PER_DAY;
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

function addWall(unit: Exclude<CalendarUnit, 'hour'>, wall: number): number {
  if (unit === 'day') return wall + MS_PER_DAY;
  if (unit === 'week') return wall + 7 * MS_PER_DAY;
  const date = new Date(wall);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}
