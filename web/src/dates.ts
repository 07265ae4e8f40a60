import type { Route } from './route.js';

/**
 * Date ranges are computed in the browser's time zone and sent as ISO instants, with `tz` for the
 * analytics bucketing, so "today" means the viewer's today on every endpoint.
 */
export const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export interface Range {
  start: Date;
  end: Date;
}

const DAY_MS = 86_400_000;

export function startOfDay(date: Date): Date {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

export function endOfDay(date: Date): Date {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate(), 23, 59, 59, 999);
}

function fromLocalDate(text: string): Date {
  const [y, m, d] = text.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1);
}

export function localDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function rangeOf(route: Pick<Route, 'preset' | 'start' | 'end'>, now = new Date()): Range {
  switch (route.preset) {
    case 'today':
      return { start: startOfDay(now), end: endOfDay(now) };
    case '7d':
      return { start: startOfDay(new Date(now.getTime() - 6 * DAY_MS)), end: endOfDay(now) };
    case 'month':
      return { start: new Date(now.getFullYear(), now.getMonth(), 1), end: endOfDay(now) };
    case 'last-month':
      return {
        start: new Date(now.getFullYear(), now.getMonth() - 1, 1),
        end: new Date(now.getFullYear(), now.getMonth(), 0, 23, 59, 59, 999),
      };
    case 'custom': {
      const start = fromLocalDate(route.start);
      const end = endOfDay(fromLocalDate(route.end));
      return start <= end ? { start, end } : { start: startOfDay(end), end: endOfDay(start) };
    }
    default:
      return { start: startOfDay(new Date(now.getTime() - 29 * DAY_MS)), end: endOfDay(now) };
  }
}

/** Today, this week (Monday start) and this month, each up to now. */
export function kpiRanges(now = new Date()): { label: string; range: Range }[] {
  const today = startOfDay(now);
  const monday = new Date(
    today.getFullYear(),
    today.getMonth(),
    today.getDate() - ((today.getDay() + 6) % 7),
  );
  return [
    { label: 'Today', range: { start: today, end: now } },
    { label: 'This week', range: { start: monday, end: now } },
    { label: 'This month', range: { start: new Date(now.getFullYear(), now.getMonth(), 1), end: now } },
  ];
}

/** Chart bucket for a range: hours up to two days, days up to ~3 months, then weeks. */
export function bucketFor(range: Range): 'hour' | 'day' | 'week' {
  const days = (range.end.getTime() - range.start.getTime()) / DAY_MS;
  if (days <= 2) return 'hour';
  if (days <= 93) return 'day';
  return 'week';
}

/** The API filter of a route: every endpoint gets the same one. */
export function filterQuery(route: Route, range: Range = rangeOf(route)) {
  return {
    start: range.start.toISOString(),
    end: range.end.toISOString(),
    tz: TIME_ZONE,
    model: route.model,
    ingest_token_id: route.token,
    tag: route.tag,
  };
}
