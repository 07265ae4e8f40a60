/**
 * Every metric the service keeps, in one place. Counters live in this process (Cost Guardian runs as
 * one process, so they are the whole service's counters, unlike the original's per-worker view).
 * GET /metrics renders them in the original's JSON shape.
 */

export type IngestOutcome =
  | 'success'
  | 'duplicate'
  | 'bad_auth'
  | 'validation_error'
  | 'rate_limited'
  | 'unknown_token'
  | 'inactive_token';

const LATENCY_SAMPLES = 200;

class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;
  count = 0;

  record(ms: number): void {
    if (this.samples.length < LATENCY_SAMPLES) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % LATENCY_SAMPLES;
    this.count += 1;
  }

  summary(): { count: number; mean_ms: number; p50_ms?: number; p95_ms?: number } {
    const n = this.samples.length;
    const mean = n === 0 ? 0 : this.samples.reduce((a, b) => a + b, 0) / n;
    const result: { count: number; mean_ms: number; p50_ms?: number; p95_ms?: number } = {
      count: this.count,
      mean_ms: round(mean),
    };
    if (n >= 10) {
      const sorted = [...this.samples].sort((a, b) => a - b);
      result.p50_ms = round(sorted[Math.floor(0.5 * n)] ?? 0);
      result.p95_ms = round(sorted[Math.min(n - 1, Math.floor(0.95 * n))] ?? 0);
    }
    return result;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export class Metrics {
  rateLimitHits = 0;
  readonly ingest: Record<IngestOutcome, number> = {
    success: 0,
    duplicate: 0,
    bad_auth: 0,
    validation_error: 0,
    rate_limited: 0,
    unknown_token: 0,
    inactive_token: 0,
  };
  /** Records per group commit and its duration, for tuning. */
  readonly commits = { count: 0, records: 0, totalMs: 0, maxRecords: 0 };
  private readonly latency = new Map<string, LatencyWindow>();
  private readonly statuses = new Map<string, Map<number, number>>();

  countIngest(outcome: IngestOutcome, n = 1): void {
    this.ingest[outcome] += n;
  }

  recordCommit(records: number, durationMs: number): void {
    this.commits.count += 1;
    this.commits.records += records;
    this.commits.totalMs += durationMs;
    this.commits.maxRecords = Math.max(this.commits.maxRecords, records);
  }

  /** `route` is the route pattern (bounded set), never the raw URL. */
  recordRequest(route: string, statusCode: number, durationMs: number): void {
    let window = this.latency.get(route);
    if (!window) {
      window = new LatencyWindow();
      this.latency.set(route, window);
    }
    window.record(durationMs);
    let byStatus = this.statuses.get(route);
    if (!byStatus) {
      byStatus = new Map();
      this.statuses.set(route, byStatus);
    }
    byStatus.set(statusCode, (byStatus.get(statusCode) ?? 0) + 1);
  }

  latencySummary(): Record<string, ReturnType<LatencyWindow['summary']>> {
    return Object.fromEntries([...this.latency].map(([route, window]) => [route, window.summary()]));
  }

  statusSummary(): Record<string, Record<string, number>> {
    return Object.fromEntries(
      [...this.statuses].map(([route, counts]) => [
        route,
        Object.fromEntries([...counts].map(([s, n]) => [String(s), n])),
      ]),
    );
  }
}
