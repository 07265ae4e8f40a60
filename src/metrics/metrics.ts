import { VERSION } from '../version.js';
import { type IngestRefusalReason, IngestRefusals } from './ingest-refusals.js';
import { createPrometheusMetrics, type PrometheusMetrics } from './prometheus.js';

/**
 * Every metric the service keeps, in one place. Counters live in this process (Cost Guardian runs as
 * one process, so they are the whole service's counters, unlike the original's per-worker view).
 * GET /metrics renders them in the original's JSON shape; GET /metrics/prometheus renders the same
 * counts (read from these fields at scrape time) plus histograms, from `prometheus` (prometheus.ts
 * names every series). Each Metrics has its own registry, so several apps can live in one process.
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

/** Which limiter refused: admin requests per IP, ingest records per token, failed keys per IP. */
export type RateLimiterName = 'admin' | 'ingest' | 'auth';

export class Metrics {
  readonly rateLimitHitsBy: Record<RateLimiterName, number> = { admin: 0, ingest: 0, auth: 0 };
  readonly ingest: Record<IngestOutcome, number> = {
    success: 0,
    duplicate: 0,
    bad_auth: 0,
    validation_error: 0,
    rate_limited: 0,
    unknown_token: 0,
    inactive_token: 0,
  };
  /** Whether the rate-limit store answers (always, for memory buckets), and its outages since start. */
  readonly rateLimitStore = { up: true, outages: 0 };
  /** Refused ingest records of the last hour, by reason, for the dashboard's warning. */
  readonly ingestRefusals = new IngestRefusals();
  private readonly refusalListeners = new Set<() => void>();
  /** Records per group commit and its duration, for tuning. */
  readonly commits = { count: 0, records: 0, totalMs: 0, maxRecords: 0 };
  private readonly latency = new Map<string, LatencyWindow>();
  private readonly statuses = new Map<string, Map<number, number>>();
  readonly prometheus: PrometheusMetrics;

  /** `processMetrics` adds Node.js process series (CPU, memory, event-loop lag): for the server, not tests. */
  constructor(options: { processMetrics?: boolean } = {}) {
    this.prometheus = createPrometheusMetrics(
      {
        ingestOutcomes: () => ({ ...this.ingest }),
        rateLimitHits: () => ({ ...this.rateLimitHitsBy }),
        rateLimitStore: () => ({ ...this.rateLimitStore }),
      },
      { version: VERSION, processMetrics: options.processMetrics ?? false },
    );
  }

  /** All rate-limit refusals, as the original's `rate_limit_hits`. */
  get rateLimitHits(): number {
    return this.rateLimitHitsBy.admin + this.rateLimitHitsBy.ingest + this.rateLimitHitsBy.auth;
  }

  countRateLimitHit(limiter: RateLimiterName): void {
    this.rateLimitHitsBy[limiter] += 1;
  }

  /** The shared rate-limit store (Redis) turned unreachable (`up` false) or answers again. */
  recordRateLimitStore(up: boolean): void {
    if (!up && this.rateLimitStore.up) this.rateLimitStore.outages += 1;
    this.rateLimitStore.up = up;
  }

  countIngest(outcome: IngestOutcome, n = 1): void {
    this.ingest[outcome] += n;
  }

  /**
   * An ingest record refused (`countIngest` counts it too): kept for the last hour's summary, and
   * every `onIngestRefused` listener is called. `tokenLabel` is null when the token is not known.
   */
  recordIngestRefused(reason: IngestRefusalReason, nowMs: number, tokenLabel: string | null): void {
    this.ingestRefusals.record(nowMs, reason, tokenLabel);
    for (const listener of this.refusalListeners) listener();
  }

  /**
   * Called after each refused ingest record, synchronously on the ingest path: a listener must
   * only note it and return (the live event stream coalesces them). Returns the unsubscribe.
   */
  onIngestRefused(listener: () => void): () => void {
    this.refusalListeners.add(listener);
    return () => this.refusalListeners.delete(listener);
  }

  recordCommit(records: number, durationMs: number): void {
    this.commits.count += 1;
    this.commits.records += records;
    this.commits.totalMs += durationMs;
    this.commits.maxRecords = Math.max(this.commits.maxRecords, records);
    this.prometheus.observeCommit(records, durationMs);
  }

  /** A WAL sync that made group commits durable (writes are answered after it). */
  recordSync(durationMs: number): void {
    this.prometheus.observeSync(durationMs);
  }

  /** A read answered by the read worker (`operation` is its protocol op: a bounded set). */
  recordRead(operation: string, durationMs: number): void {
    this.prometheus.observeRead(operation, durationMs);
  }

  recordIngestBatch(records: number): void {
    this.prometheus.observeIngestBatch(records);
  }

  /** A usage row that was stored (not a duplicate): spend and LLM tokens by model and tracking token. */
  recordUsage(usage: Parameters<PrometheusMetrics['observeUsage']>[0]): void {
    this.prometheus.observeUsage(usage);
  }

  /** `route` is the route pattern (bounded set), never the raw URL. */
  recordRequest(route: string, statusCode: number, durationMs: number, method = 'GET'): void {
    this.prometheus.observeRequest(route, method, statusCode, durationMs);
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
