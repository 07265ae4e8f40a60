import type { UsageFilter } from './store.js';

/**
 * The analytics read of the Store contract: usage totals per time interval and per group, for a
 * filter. A backend answers from its rollups when they hold the answer and from the raw rows
 * otherwise; both answers are exactly equal (the contract tests compare them).
 */

export type UsageGroupBy =
  | { kind: 'model' }
  | { kind: 'provider' }
  | { kind: 'token' }
  | { kind: 'user' }
  | { kind: 'tag'; key: string };

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  /** Sum over priced rows; unpriced rows are counted in unpricedRequests. */
  costNanoUsd: number;
  unpricedRequests: number;
}

/** Half-open: startMs inclusive, endMs exclusive, UTC ms. */
export interface TimeInterval {
  startMs: number;
  endMs: number;
}

export interface UsageAggregateQuery {
  /** Which rows count. Its startMs/endMs are ignored: the intervals say which times count. */
  filter: UsageFilter;
  /** Non-overlapping intervals, each answered on its own (the buckets of a time series). */
  intervals: readonly TimeInterval[];
  groupBy: UsageGroupBy | null;
  /** 'raw' skips the rollups (for benchmarks and checks); default 'auto'. */
  source?: 'auto' | 'raw';
  /** The totals wanted (default all); the others are answered as 0, which is cheaper. */
  measures?: readonly (keyof UsageTotals)[];
}

export interface UsageAggregateCell {
  /** Index into the query's intervals. */
  interval: number;
  /**
   * The group's value (model, provider, token id as text, user, tag value); null for rows that
   * have none (no token, no user, no such tag) and for every cell of an ungrouped query.
   */
  group: string | null;
  totals: UsageTotals;
}

/**
 * Cells in columns (typed arrays cross the read worker's message channel as one copy each, where
 * thousands of cell objects would be cloned one by one). Use listCells() for objects.
 */
export interface UsageAggregateResult {
  /** 'rollups' when pre-aggregated tables answered (possibly with a few raw edge minutes). */
  source: 'rollups' | 'raw';
  /** The group values that occur; cells refer to them by index. */
  groups: (string | null)[];
  /** Per cell (only cells with at least one request): its interval index and group index. */
  cellIntervals: Int32Array;
  cellGroups: Int32Array;
  /** TOTALS_FIELDS.length numbers per cell, in TOTALS_FIELDS order. */
  cellTotals: Float64Array;
  /** Token labels by token id (as text), for token groups; deleted tokens keep their label. */
  labels: Record<string, string>;
}

export function emptyTotals(): UsageTotals {
  return {
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    cachedTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    costNanoUsd: 0,
    unpricedRequests: 0,
  };
}

export const TOTALS_FIELDS = Object.keys(emptyTotals()) as (keyof UsageTotals)[];

/** target += sign * source, field by field. */
export function addTotals(target: UsageTotals, source: UsageTotals, sign = 1): void {
  for (const field of TOTALS_FIELDS) target[field] += sign * source[field];
}

/** The totals of cell `index` of a result. */
export function cellTotalsAt(result: UsageAggregateResult, index: number): UsageTotals {
  const totals = emptyTotals();
  const offset = index * TOTALS_FIELDS.length;
  TOTALS_FIELDS.forEach((field, i) => {
    totals[field] = result.cellTotals[offset + i] ?? 0;
  });
  return totals;
}

/** The cells of a result as objects, in result order. */
export function listCells(result: UsageAggregateResult): UsageAggregateCell[] {
  return Array.from(result.cellIntervals, (interval, index) => ({
    interval,
    group: result.groups[result.cellGroups[index] ?? 0] ?? null,
    totals: cellTotalsAt(result, index),
  }));
}
