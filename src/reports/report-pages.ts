import type { ReportedCost, ReportedUsage } from '../storage/provider-reports.js';

/** Half-open range of bucket starts to pull, UTC ms (whole days). */
export interface ReportRange {
  startMs: number;
  endMs: number;
}

/** One page of a report: the buckets it covered (to replace) and their rows. */
export interface UsagePage {
  bucketStartsMs: number[];
  lastBucketEndMs: number | null;
  rows: ReportedUsage[];
}

export interface CostPage {
  bucketStartsMs: number[];
  lastBucketEndMs: number | null;
  rows: ReportedCost[];
}

/** A count from a report: a non-negative integer, or 0 when absent or malformed. */
export function num(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/** A name from a report: '' for null, absent or not a string. */
export function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
