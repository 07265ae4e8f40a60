import type { Clock } from '../lib/clock.js';
import type { CalendarUnit, Zone } from '../lib/zoned-time.js';
import type { Store, UsageFilter } from '../storage/store.js';
import {
  addTotals,
  emptyTotals,
  listCells,
  type TimeInterval,
  TOTALS_FIELDS,
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
const COST = TOTALS_FIELDS.indexOf('costNanoUsd');

function totalsFrom(sums: Float64Array, offset: number): UsageTotals {
  const totals = emptyTotals();
  for (const [i, field] of TOTALS_FIELDS.entries()) totals[field] = sums[offset + i] ?? 0;
  return totals;
}
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
      // Per group, the bucket totals in one flat array (thousands of cells: no object per cell).
      const width = TOTALS_FIELDS.length;
      const buckets = bucketStarts.length;
      const groupSums = result.groups.map(() => new Float64Array(buckets * width));
      const groupCost = new Float64Array(result.groups.length);
      const groupRequests = new Float64Array(result.groups.length);
      for (let cell = 0; cell < result.cellIntervals.length; cell += 1) {
        const group = result.cellGroups[cell] ?? 0;
        const target = groupSums[group] as Float64Array;
        const at = (result.cellIntervals[cell] ?? 0) * width;
        for (let f = 0; f < width; f += 1)
          target[at + f] = (target[at + f] ?? 0) + (result.cellTotals[cell * width + f] ?? 0);
        groupCost[group] = (groupCost[group] ?? 0) + (result.cellTotals[cell * width + COST] ?? 0);
        groupRequests[group] = (groupRequests[group] ?? 0) + (result.cellTotals[cell * width] ?? 0);
      }
      const toPoints = (sums: Float64Array) =>
        bucketStarts.map((_, bucket) => totalsFrom(sums, bucket * width));
      if (!groupBy) {
        const sums = new Float64Array(buckets * width);
        for (const group of groupSums)
          for (let i = 0; i < sums.length; i += 1) sums[i] = (sums[i] ?? 0) + (group[i] ?? 0);
        return {
          ok: true,
          value: {
            bucketStarts,
            series: [{ key: 'total', label: 'Total', points: toPoints(sums) }],
            source: result.source,
          },
        };
      }
      const ranked = result.groups
        .map((group, index) => ({
          group,
          index,
          key: group ?? '',
          totals: {
            ...emptyTotals(),
            costNanoUsd: groupCost[index] ?? 0,
            requests: groupRequests[index] ?? 0,
          },
        }))
        .filter((item) => item.totals.requests !== 0)
        .sort(byCost);
      const series: Series[] = ranked.slice(0, seriesLimit).map((item) => ({
        key: item.key,
        label: groupLabel(groupBy, item.group, result.labels),
        points: toPoints(groupSums[item.index] as Float64Array),
      }));
      const rest = ranked.slice(seriesLimit);
      if (rest.length > 0) {
        const sums = new Float64Array(buckets * width);
        for (const item of rest) {
          const group = groupSums[item.index] as Float64Array;
          for (let i = 0; i < sums.length; i += 1) sums[i] = (sums[i] ?? 0) + (group[i] ?? 0);
        }
        series.push({ key: '__other__', label: `Other (${rest.length})`, points: toPoints(sums) });
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
