import type { Clock } from '../lib/clock.js';
import type { CalendarUnit, Zone } from '../lib/zoned-time.js';
import type { Store, UsageFilter } from '../storage/store.js';
import {
  addTotals,
  emptyTotals,
  listCells,
  type TimeInterval,
  type UsageAggregateResult,
  type UsageGroupBy,
  type UsageTotals,
} from '../storage/usage-aggregate.js';

/**
 * The dashboard's questions (totals, time series, top N) over a filter and a time range, answered
 * by Store.aggregateUsage. Times are UTC ms; ranges are half-open [startMs, endMs).
 */

export const DEFAULT_RANGE_MS = 30 * 86_400_000;
/** What the time series and top lists show (fewer sums are cheaper to compute). */
const SERIES_MEASURES: (keyof UsageTotals)[] = [
  'requests',
  'costNanoUsd',
  'promptTokens',
  'completionTokens',
  'totalTokens',
  'unpricedRequests',
];
const TOP_MEASURES: (keyof UsageTotals)[] = ['requests', 'costNanoUsd', 'totalTokens', 'unpricedRequests'];
/** A time series has at most this many buckets (hourly covers about seven months). */
export const MAX_BUCKETS = 5000;

export interface AnalyticsRange {
  startMs: number;
  /** Exclusive. */
  endMs: number;
}

export interface AnalyticsQuery {
  /** startMs/endMs of the filter are ignored: `range` is the time range. */
  filter: UsageFilter;
  range: AnalyticsRange;
  /** 'raw' answers from usage_log only (benchmarks compare the two). */
  source?: 'auto' | 'raw';
}

export interface Summary {
  range: AnalyticsRange;
  previousRange: AnalyticsRange;
  current: UsageTotals;
  previous: UsageTotals;
  source: UsageAggregateResult['source'];
}

export interface Series {
  /** '' for rows without the grouped value (no token, no user, no such tag); 'total' ungrouped. */
  key: string;
  label: string;
  /** One per bucket, in bucket order, zeros included. */
  points: UsageTotals[];
}

export interface Timeseries {
  /** Start of each bucket (the first may start before the range; only the range is counted). */
  bucketStarts: number[];
  series: Series[];
  source: UsageAggregateResult['source'];
}

export interface TopItem {
  key: string;
  label: string;
  totals: UsageTotals;
}

export type TimeseriesResult = { ok: true; value: Timeseries } | { ok: false; reason: 'too_many_buckets' };

export interface UsageAnalytics {
  summary(query: AnalyticsQuery): Promise<Summary>;
  timeseries(
    query: AnalyticsQuery & {
      zone: Zone;
      unit: CalendarUnit;
      groupBy: UsageGroupBy | null;
      seriesLimit: number;
    },
  ): Promise<TimeseriesResult>;
  top(
    query: AnalyticsQuery & { by: UsageGroupBy; limit: number },
  ): Promise<{ items: TopItem[]; source: UsageAggregateResult['source'] }>;
}

/**
 * The range a request asks for: start and end as given, a missing end is "now", a missing start is
 * 30 days before the end. `endMs` is exclusive.
 */
export function resolveRange(
  startMs: number | undefined,
  endMs: number | undefined,
  nowMs: number,
): AnalyticsRange {
  const end = endMs ?? nowMs;
  return { startMs: startMs ?? end - DEFAULT_RANGE_MS, endMs: end };
}

/** Ranks by cost, then requests, then key, so that equal groups have a stable order. */
function byCost(a: { key: string; totals: UsageTotals }, b: { key: string; totals: UsageTotals }): number {
  return (
    b.totals.costNanoUsd - a.totals.costNanoUsd ||
    b.totals.requests - a.totals.requests ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

export function groupLabel(
  groupBy: UsageGroupBy,
  key: string | null,
  labels: Record<string, string>,
): string {
  if (key === null) {
    if (groupBy.kind === 'token') return '(no token)';
    if (groupBy.kind === 'user') return '(no user)';
    if (groupBy.kind === 'tag') return `(no ${groupBy.key})`;
    return '(none)';
  }
  if (groupBy.kind === 'token') return labels[key] ?? `token ${key}`;
  return key;
}

export function createUsageAnalytics(deps: { store: Store; clock?: Clock }): UsageAnalytics {
  const { store } = deps;

  return {
    async summary({ filter, range, source }) {
      const length = range.endMs - range.startMs;
      const previousRange = { startMs: range.startMs - length, endMs: range.startMs };
      const result = await store.aggregateUsage({
        filter,
        intervals: [range, previousRange],
        groupBy: null,
        ...(source ? { source } : {}),
      });
      const current = emptyTotals();
      const previous = emptyTotals();
      for (const cell of listCells(result)) addTotals(cell.interval === 0 ? current : previous, cell.totals);
      return { range, previousRange, current, previous, source: result.source };
    },

    async timeseries({ filter, range, source, zone, unit, groupBy, seriesLimit }) {
      const bucketStarts = zone.buckets(unit, range.startMs, range.endMs, MAX_BUCKETS);
      if (!bucketStarts) return { ok: false, reason: 'too_many_buckets' };
      const intervals: TimeInterval[] = bucketStarts.map((start, i) => ({
        startMs: Math.max(start, range.startMs),
        endMs: Math.min(bucketStarts[i + 1] ?? range.endMs, range.endMs),
      }));
      const result = await store.aggregateUsage({
        filter,
        intervals,
        groupBy,
        measures: SERIES_MEASURES,
        ...(source ? { source } : {}),
      });
      const cells = listCells(result);
      const zeros = () => bucketStarts.map(() => emptyTotals());
      if (!groupBy) {
        const points = zeros();
        for (const cell of cells) addTotals(points[cell.interval] ?? emptyTotals(), cell.totals);
        return {
          ok: true,
          value: { bucketStarts, series: [{ key: 'total', label: 'Total', points }], source: result.source },
        };
      }
      const groups = new Map<string | null, { key: string; totals: UsageTotals; points: UsageTotals[] }>();
      for (const cell of cells) {
        let group = groups.get(cell.group);
        if (!group) {
          group = { key: cell.group ?? '', totals: emptyTotals(), points: zeros() };
          groups.set(cell.group, group);
        }
        addTotals(group.totals, cell.totals);
        addTotals(group.points[cell.interval] ?? emptyTotals(), cell.totals);
      }
      const ranked = [...groups.entries()].map(([group, value]) => ({ group, ...value })).sort(byCost);
      const series: Series[] = ranked.slice(0, seriesLimit).map((item) => ({
        key: item.key,
        label: groupLabel(groupBy, item.group, result.labels),
        points: item.points,
      }));
      const rest = ranked.slice(seriesLimit);
      if (rest.length > 0) {
        const points = zeros();
        for (const item of rest) {
          for (const [i, point] of item.points.entries()) addTotals(points[i] ?? emptyTotals(), point);
        }
        series.push({ key: '__other__', label: `Other (${rest.length})`, points });
      }
      return { ok: true, value: { bucketStarts, series, source: result.source } };
    },

    async top({ filter, range, source, by, limit }) {
      const result = await store.aggregateUsage({
        filter,
        intervals: [range],
        groupBy: by,
        measures: TOP_MEASURES,
        ...(source ? { source } : {}),
      });
      const items = listCells(result)
        .map((cell) => ({
          key: cell.group ?? '',
          label: groupLabel(by, cell.group, result.labels),
          totals: cell.totals,
        }))
        .sort(byCost)
        .slice(0, limit);
      return { items, source: result.source };
    },
  };
}
