import { isValidTimeZone, Zone } from '../lib/zoned-time.js';
import type { BudgetWindowSpec } from '../storage/store.js';

/**
 * Budget windows (pure). A calendar window is the local day, ISO week (Monday 00:00) or month in an
 * IANA zone, with DST handled by lib/zoned-time.ts (a local day can be 23 or 25 hours long). A
 * rolling window is the last N whole UTC hours, the current hour included: at 14:35 a 24-hour
 * window runs from 15:00 yesterday to 15:00 today, and it moves on at every full hour. Whole hours
 * keep every window on the edges of the budget's counters, so its spend is exact.
 */

export const HOUR_MS = 3_600_000;
export const QUARTER_HOUR_MS = 900_000;
export const DAY_MS = 86_400_000;
/** How far back a budget's counters reach before its window: four weeks for the forecast's seasons. */
export const HISTORY_MS = 28 * DAY_MS;

export interface WindowSpan {
  startMs: number;
  /** Exclusive. */
  endMs: number;
}

const zones = new Map<string, Zone>();

function zoneOf(name: string): Zone {
  let zone = zones.get(name);
  if (!zone) {
    zone = new Zone(name);
    zones.set(name, zone);
  }
  return zone;
}

function floorTo(ms: number, size: number): number {
  return ms - (((ms % size) + size) % size);
}

/** The window that contains nowMs. */
export function windowAt(spec: BudgetWindowSpec, nowMs: number): WindowSpan {
  if (spec.kind === 'rolling') {
    const endMs = floorTo(nowMs, HOUR_MS) + HOUR_MS;
    return { startMs: endMs - spec.hours * HOUR_MS, endMs };
  }
  const zone = zoneOf(spec.timeZone);
  const startMs = zone.floor(spec.kind, nowMs);
  return { startMs, endMs: zone.next(spec.kind, startMs) };
}

/**
 * The width of a budget's counters: an hour, unless the zone's offset is ever not a whole hour
 * around nowMs (India, Nepal, South Australia, Lord Howe's half-hour DST), whose local midnights
 * fall on quarter hours.
 */
export function counterBucketMs(spec: BudgetWindowSpec, nowMs: number): number {
  if (spec.kind === 'rolling') return HOUR_MS;
  const zone = zoneOf(spec.timeZone);
  for (let month = -12; month <= 24; month += 1) {
    if (zone.offsetAt(nowMs + month * 30 * DAY_MS) % HOUR_MS !== 0) return QUARTER_HOUR_MS;
  }
  return HOUR_MS;
}

/** The start of the counter bucket that contains ts. */
export function bucketOf(ts: number, bucketMs: number): number {
  return floorTo(ts, bucketMs);
}

/** Where a budget's counting should reach back to at nowMs: its window, and four weeks at least. */
export function historyStartMs(spec: BudgetWindowSpec, nowMs: number): number {
  return Math.min(windowAt(spec, nowMs).startMs, floorTo(nowMs, DAY_MS) - HISTORY_MS);
}

export function isCalendarZone(name: string): boolean {
  return isValidTimeZone(name);
}

/** "month in Europe/Paris", "ISO week in UTC", "rolling 7 days", "rolling 36 hours". */
export function describeWindow(spec: BudgetWindowSpec): string {
  if (spec.kind === 'rolling') {
    return spec.hours % 24 === 0
      ? `rolling ${spec.hours / 24} day${spec.hours === 24 ? '' : 's'}`
      : `rolling ${spec.hours} hour${spec.hours === 1 ? '' : 's'}`;
  }
  const unit = spec.kind === 'week' ? 'ISO week' : spec.kind;
  return `${unit} in ${spec.timeZone}`;
}

function localHourOfWeek(ms: number, offsetMs: number): number {
  const localHours = Math.floor((ms + offsetMs) / HOUR_MS);
  // 1970-01-01 was a Thursday: hour 72 of a week that starts on Monday.
  return (((localHours + 72) % 168) + 168) % 168;
}

/**
 * The local hour of the week (0 = Monday 00:00-01:00) of each of `count` hours from startMs (an
 * hour start). Rolling windows use UTC. The zone's offset is asked once a day, and at the hour of
 * each change, instead of once an hour (Intl costs microseconds a call).
 */
export function hoursOfWeek(spec: BudgetWindowSpec, startMs: number, count: number): Uint8Array {
  const result = new Uint8Array(count);
  const zone = spec.kind === 'rolling' ? undefined : zoneOf(spec.timeZone);
  const offsetAt = (ms: number) => zone?.offsetAt(ms) ?? 0;
  let index = 0;
  while (index < count) {
    const dayEnd = Math.min(count, index + 24);
    const first = offsetAt(startMs + index * HOUR_MS);
    const last = offsetAt(startMs + (dayEnd - 1) * HOUR_MS);
    // The first hour (from index) whose offset is `last`: where a change inside this day happened.
    let change = index;
    if (first !== last) {
      let lo = index + 1;
      let hi = dayEnd - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (offsetAt(startMs + mid * HOUR_MS) === last) hi = mid;
        else lo = mid + 1;
      }
      change = lo;
    }
    for (let i = index; i < dayEnd; i += 1) {
      result[i] = localHourOfWeek(startMs + i * HOUR_MS, i < change ? first : last);
    }
    index = dayEnd;
  }
  return result;
}
