/**
 * Times are milliseconds since the Unix epoch (UTC) inside the service and ISO-8601 with a `Z` at the
 * edges. Parsing is strict: anything that is not a real ISO-8601 date or date-time is refused.
 */

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?$/;

export interface ParsedTime {
  ms: number;
  /** True when the input was a bare date (YYYY-MM-DD) with no time of day. */
  dateOnly: boolean;
}

/**
 * Parse an ISO-8601 date or date-time. A date-time without an offset is read as UTC (the original
 * read it in the server's local zone, which made results depend on where the server ran).
 * Returns undefined for anything else, including impossible dates like 2024-02-30.
 */
export function parseIsoTime(input: string): ParsedTime | undefined {
  const text = input.trim();
  const dateMatch = ISO_DATE.exec(text);
  if (dateMatch) {
    const [y, m, d] = [Number(dateMatch[1]), Number(dateMatch[2]), Number(dateMatch[3])];
    const ms = Date.UTC(y, m - 1, d);
    if (!isRealDate(ms, y, m, d)) return undefined;
    return { ms, dateOnly: true };
  }
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return undefined;
  const y = Number(match[1]);
  const mo = Number(match[2]);
  const d = Number(match[3]);
  const h = Number(match[4]);
  const mi = Number(match[5]);
  const s = match[6] === undefined ? 0 : Number(match[6]);
  const fraction = match[7] === undefined ? 0 : Math.floor(Number(`0.${match[7]}`) * 1000);
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const base = Date.UTC(y, mo - 1, d, h, mi, s, fraction);
  if (!isRealDate(Date.UTC(y, mo - 1, d), y, mo, d)) return undefined;
  const offset = match[8];
  let offsetMinutes = 0;
  if (offset && offset !== 'Z' && offset !== 'z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    const digits = offset.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4));
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  return { ms: base - offsetMinutes * 60_000, dateOnly: false };
}

function isRealDate(ms: number, y: number, m: number, d: number): boolean {
  const date = new Date(ms);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

let cachedDay = Number.NaN;
let cachedDate = '';
/** Years 0000-9999: toISOString's plain format (beyond them it writes +/-YYYYYY). */
const FAST_MAX_MS = 253_402_300_800_000;
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/**
 * `2024-01-15T10:30:00Z`, with milliseconds only when they are not zero. Exports format a
 * million of these in time order, so the date part of the last day is reused.
 */
export function formatIsoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= FAST_MAX_MS) {
    const iso = new Date(ms).toISOString();
    return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
  }
  const day = Math.floor(ms / 86_400_000);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedDate = new Date(day * 86_400_000).toISOString().slice(0, 11);
  }
  let rest = ms - day * 86_400_000;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  const fraction = milli === 0 ? '' : `.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}`;
  return `${cachedDate}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}${fraction}Z`;
}

export const MS_PER_DAY = 86_400_000;
