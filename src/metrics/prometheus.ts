import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric the service exports, defined here and nowhere else. Names have the `cg_`
 * prefix; counters end in `_total`; units are in the name (seconds, usd). Label values come from
 * bounded sets only: route patterns (never raw URLs), status codes, fixed reasons, and for models and
 * tracking tokens the first MAX_* distinct values seen since start (later ones are counted as
 * "other"), so a client cannot grow the series count without bound.
 */
export const METRIC = {
  httpRequests: 'cg_http_requests_total',
  httpRequestDuration: 'cg_http_request_duration_seconds',
  ingestRecords: 'cg_ingest_records_total',
  ingestBatchRecords: 'cg_ingest_batch_records',
  rateLimitHits: 'cg_rate_limit_hits_total',
  rateLimitStoreUp: 'cg_rate_limit_store_up',
  rateLimitStoreOutages: 'cg_rate_limit_store_outages_total',
  writeQueueDepth: 'cg_write_queue_depth',
  dbCommitRecords: 'cg_db_commit_records',
  dbCommitDuration: 'cg_db_commit_duration_seconds',
  dbSyncDuration: 'cg_db_sync_duration_seconds',
  dbReadDuration: 'cg_db_read_duration_seconds',
  spend: 'cg_spend_usd_total',
  trackingTokenSpend: 'cg_tracking_token_spend_usd_total',
  llmTokens: 'cg_llm_tokens_total',
  unpricedRecords: 'cg_unpriced_records_total',
  usageRows: 'cg_usage_rows',
  activeTrackingTokens: 'cg_active_tracking_tokens',
  lastUsage: 'cg_last_usage_timestamp_seconds',
  buildInfo: 'cg_build_info',
  refusedPriceOverrides: 'cg_price_override_entries_refused',
  dbWriteState: 'cg_db_write_state',
  dbWriteEpisodes: 'cg_db_write_episodes_total',
  dbDiskFree: 'cg_db_disk_free_bytes',
  bodyBytesInFlight: 'cg_http_body_bytes_in_flight',
  bodyBudgetRefusals: 'cg_http_body_budget_refusals_total',
  providerDriftAlerts: 'cg_provider_drift_alerts_total',
} as const;

/** The write path's states (storage/store.ts WriteState), each a label value of cg_db_write_state. */
export const WRITE_STATES = ['ok', 'locked', 'full', 'failed'] as const;

/** Prefix of the Node.js process metrics (cg_process_cpu_seconds_total, cg_nodejs_heap_size_used_bytes, ...). */
export const PROCESS_METRICS_PREFIX = 'cg_';

export const MAX_MODEL_LABELS = 50;
export const MAX_TRACKING_TOKEN_LABELS = 100;
export const OTHER_LABEL = 'other';

const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DB_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
const RECORD_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/** Keeps at most `max` distinct label values; any further value maps to "other". */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OTHER_LABEL;
    this.seen.add(value);
    return value;
  }
}

/** Values read at scrape time from the Metrics object (the same numbers GET /metrics shows). */
export interface CounterSources {
  ingestOutcomes(): Record<string, number>;
  rateLimitHits(): Record<string, number>;
  rateLimitStore(): { up: boolean; outages: number };
}

/** Values read from the store at scrape time. */
export interface ScrapeSnapshot {
  usageRows: number;
  activeTrackingTokens: number;
  lastUsageAt: number | null;
  queuedWrites?: number;
  /** Free bytes on the database's file system, when the store can tell. */
  diskFreeBytes?: number;
}

export function createPrometheusMetrics(
  sources: CounterSources,
  options: { version: string; processMetrics: boolean },
) {
  const registry = new Registry();
  const registers = [registry];

  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: PROCESS_METRICS_PREFIX });

  new Gauge({
    name: METRIC.buildInfo,
    help: 'Always 1; the version label says which build is running.',
    labelNames: ['version'],
    registers,
  }).set({ version: options.version }, 1);

  const httpRequests = new Counter({
    name: METRIC.httpRequests,
    help: 'HTTP requests answered, by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'],
    registers,
  });
  const httpRequestDuration = new Histogram({
    name: METRIC.httpRequestDuration,
    help: 'Time from receiving a request to sending the response, by route pattern and method.',
    labelNames: ['route', 'method'],
    buckets: LATENCY_BUCKETS_S,
    registers,
  });

  new Counter({
    name: METRIC.ingestRecords,
    help: 'Ingest outcomes per record: success, duplicate, or the reason it was refused.',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const [outcome, count] of Object.entries(sources.ingestOutcomes())) this.inc({ outcome }, count);
    },
  });
  new Counter({
    name: METRIC.rateLimitHits,
    help: 'Requests or records refused by a rate limit, by limiter (admin per IP, ingest per token, auth failures per IP).',
    labelNames: ['limiter'],
    registers,
    collect() {
      this.reset();
      for (const [limiter, count] of Object.entries(sources.rateLimitHits())) this.inc({ limiter }, count);
    },
  });

  new Gauge({
    name: METRIC.rateLimitStoreUp,
    help: 'Whether the rate-limit store answers: 0 while Redis is unreachable (RATE_LIMIT_REDIS_FAILURE applies); always 1 for in-process buckets.',
    registers,
    collect() {
      this.set(sources.rateLimitStore().up ? 1 : 0);
    },
  });
  new Counter({
    name: METRIC.rateLimitStoreOutages,
    help: 'Times the rate-limit store (Redis) became unreachable since start: one per outage, not per request.',
    registers,
    collect() {
      this.reset();
      this.inc(sources.rateLimitStore().outages);
    },
  });
  const providerDriftAlerts = new Counter({
    name: METRIC.providerDriftAlerts,
    help: 'Drift alerts raised by reconciliation: tracked cost differs from the provider-reported cost (docs/provider-reports.md).',
    labelNames: ['provider'],
    registers,
  });

  const ingestBatchRecords = new Histogram({
    name: METRIC.ingestBatchRecords,
    help: 'Records per POST /ingest/batch request.',
    buckets: RECORD_BUCKETS,
    registers,
  });
  const writeQueueDepth = new Gauge({
    name: METRIC.writeQueueDepth,
    help: 'Writes waiting for the next group commit at scrape time.',
    registers,
  });
  const dbCommitRecords = new Histogram({
    name: METRIC.dbCommitRecords,
    help: 'Records written per group-commit transaction.',
    buckets: RECORD_BUCKETS,
    registers,
  });
  const dbCommitDuration = new Histogram({
    name: METRIC.dbCommitDuration,
    help: 'Duration of a group-commit transaction on the event loop (the WAL sync runs after it, off the loop).',
    buckets: DB_BUCKETS_S,
    registers,
  });
  const dbSyncDuration = new Histogram({
    name: METRIC.dbSyncDuration,
    help: 'Duration of a WAL fdatasync that makes group commits durable; writes are answered after it.',
    buckets: DB_BUCKETS_S,
    registers,
  });
  const dbReadDuration = new Histogram({
    name: METRIC.dbReadDuration,
    help: 'Duration of a read on the read worker, by operation, including the thread hop.',
    labelNames: ['operation'],
    buckets: DB_BUCKETS_S,
    registers,
  });

  const spend = new Counter({
    name: METRIC.spend,
    help: `Cost of the priced usage ingested since start, in USD, by model (the first ${MAX_MODEL_LABELS} models; later ones as "other").`,
    labelNames: ['model'],
    registers,
  });
  const trackingTokenSpend = new Counter({
    name: METRIC.trackingTokenSpend,
    help: `Cost of the priced usage ingested since start, in USD, by tracking token id (the first ${MAX_TRACKING_TOKEN_LABELS}; later ones as "other"; "none" for token-less rows).`,
    labelNames: ['token_id'],
    registers,
  });
  const llmTokens = new Counter({
    name: METRIC.llmTokens,
    help: 'LLM tokens in the usage ingested since start, by model and kind (prompt includes cached).',
    labelNames: ['model', 'kind'],
    registers,
  });
  const unpricedRecords = new Counter({
    name: METRIC.unpricedRecords,
    help: 'Usage records stored without a price (unknown model or tier), by model.',
    labelNames: ['model'],
    registers,
  });

  const usageRows = new Gauge({ name: METRIC.usageRows, help: 'Usage rows in the database.', registers });
  const activeTrackingTokens = new Gauge({
    name: METRIC.activeTrackingTokens,
    help: 'Tracking tokens that are live and active.',
    registers,
  });
  const lastUsage = new Gauge({
    name: METRIC.lastUsage,
    help: 'Time of the newest usage row (Unix seconds); absent when there is none.',
    registers,
  });

  const refusedPriceOverrides = new Gauge({
    name: METRIC.refusedPriceOverrides,
    help: 'Entries of the stored price overrides this build cannot use (e.g. a regex RE2 cannot compile), skipped since start; each is logged with its name.',
    registers,
  });
  let writeState: (typeof WRITE_STATES)[number] = 'ok';
  new Gauge({
    name: METRIC.dbWriteState,
    help: 'The database write path: 1 for the current state (ok; locked: another process holds the write lock; full: the disk is full; failed: writes stopped until restart), 0 for the others.',
    labelNames: ['state'],
    registers,
    collect() {
      for (const state of WRITE_STATES) this.set({ state }, state === writeState ? 1 : 0);
    },
  });
  const dbWriteEpisodes = new Counter({
    name: METRIC.dbWriteEpisodes,
    help: 'Times the database write path left the ok state, by the state it entered (locked, full, failed).',
    labelNames: ['state'],
    registers,
  });
  const dbDiskFree = new Gauge({
    name: METRIC.dbDiskFree,
    help: 'Free bytes on the file system holding the database, at scrape time.',
    registers,
  });
  let bodyBytesInFlight: () => number = () => 0;
  new Gauge({
    name: METRIC.bodyBytesInFlight,
    help: 'Request-body bytes received and held (request not yet answered), across all connections; bounded by BODY_BUDGET_BYTES.',
    registers,
    collect() {
      this.set(bodyBytesInFlight());
    },
  });
  const bodyBudgetRefusals = new Counter({
    name: METRIC.bodyBudgetRefusals,
    help: 'Requests answered 503 because their body would have gone past BODY_BUDGET_BYTES.',
    registers,
  });

  const models = new BoundedLabel(MAX_MODEL_LABELS);
  const tokens = new BoundedLabel(MAX_TRACKING_TOKEN_LABELS);

  const requestChildren = new Map<
    string,
    { count: ReturnType<typeof httpRequests.labels>; duration: ReturnType<typeof httpRequestDuration.labels> }
  >();
  interface ModelTotals {
    spendNano: number;
    unpriced: number;
    prompt: number;
    completion: number;
    cached: number;
    reasoning: number;
  }
  const pendingByModel = new Map<string, ModelTotals>();
  const pendingByToken = new Map<string, number>();

  /** Moves the usage summed since the last scrape into the counters. */
  function flushUsage(): void {
    for (const [model, t] of pendingByModel) {
      if (t.spendNano > 0) spend.inc({ model }, t.spendNano / 1e9);
      if (t.unpriced > 0) unpricedRecords.inc({ model }, t.unpriced);
      if (t.prompt > 0) llmTokens.inc({ model, kind: 'prompt' }, t.prompt);
      if (t.completion > 0) llmTokens.inc({ model, kind: 'completion' }, t.completion);
      if (t.cached > 0) llmTokens.inc({ model, kind: 'cached' }, t.cached);
      if (t.reasoning > 0) llmTokens.inc({ model, kind: 'reasoning' }, t.reasoning);
    }
    for (const [token_id, nano] of pendingByToken) {
      if (nano > 0) trackingTokenSpend.inc({ token_id }, nano / 1e9);
    }
    pendingByModel.clear();
    pendingByToken.clear();
  }

  return {
    registry,
    contentType: registry.contentType,

    observeRequest(route: string, method: string, statusCode: number, durationMs: number): void {
      // Label children are looked up once per (route, method, status): hashing label objects on
      // every request cost about 1% of ingest throughput.
      const key = `${route}\u0000${method}\u0000${statusCode}`;
      let child = requestChildren.get(key);
      if (!child) {
        child = {
          count: httpRequests.labels(route, method, String(statusCode)),
          duration: httpRequestDuration.labels(route, method),
        };
        requestChildren.set(key, child);
      }
      child.count.inc();
      child.duration.observe(durationMs / 1000);
    },

    setRefusedPriceOverrides(entries: number): void {
      refusedPriceOverrides.set(entries);
    },

    observeCommit(records: number, durationMs: number): void {
      dbCommitRecords.observe(records);
      dbCommitDuration.observe(durationMs / 1000);
    },
    observeSync(durationMs: number): void {
      dbSyncDuration.observe(durationMs / 1000);
    },

    observeRead(operation: string, durationMs: number): void {
      dbReadDuration.observe({ operation }, durationMs / 1000);
    },

    countProviderDrift(provider: string): void {
      providerDriftAlerts.inc({ provider });
    },

    observeIngestBatch(records: number): void {
      ingestBatchRecords.observe(records);
    },

    observeWriteState(state: (typeof WRITE_STATES)[number]): void {
      if (state !== 'ok' && state !== writeState) dbWriteEpisodes.inc({ state });
      writeState = state;
    },

    /** Where the in-flight body bytes are read from at scrape time. */
    watchBodyBytes(source: () => number): void {
      bodyBytesInFlight = source;
    },

    countBodyBudgetRefusal(): void {
      bodyBudgetRefusals.inc();
    },

    observeUsage(usage: {
      model: string;
      ingestTokenId: number | null;
      costNanoUsd: number | null;
      promptTokens: number;
      completionTokens: number;
      cachedTokens: number;
      reasoningTokens: number;
    }): void {
      // Summed in plain maps (integers, bounded by the label caps) and handed to the counters
      // when scraped: seven labelled counter updates per record were the costliest metrics work.
      const model = models.of(usage.model);
      let totals = pendingByModel.get(model);
      if (!totals) {
        totals = { spendNano: 0, unpriced: 0, prompt: 0, completion: 0, cached: 0, reasoning: 0 };
        pendingByModel.set(model, totals);
      }
      totals.prompt += usage.promptTokens;
      totals.completion += usage.completionTokens;
      totals.cached += usage.cachedTokens;
      totals.reasoning += usage.reasoningTokens;
      if (usage.costNanoUsd === null) {
        totals.unpriced += 1;
        return;
      }
      totals.spendNano += usage.costNanoUsd;
      const token = usage.ingestTokenId === null ? 'none' : tokens.of(String(usage.ingestTokenId));
      pendingByToken.set(token, (pendingByToken.get(token) ?? 0) + usage.costNanoUsd);
    },

    /** The text exposition, with the store's numbers as of now. */
    async render(snapshot: ScrapeSnapshot): Promise<string> {
      flushUsage();
      usageRows.set(snapshot.usageRows);
      activeTrackingTokens.set(snapshot.activeTrackingTokens);
      if (snapshot.lastUsageAt === null) lastUsage.reset();
      else lastUsage.set(snapshot.lastUsageAt / 1000);
      if (snapshot.queuedWrites === undefined) writeQueueDepth.reset();
      else writeQueueDepth.set(snapshot.queuedWrites);
      if (snapshot.diskFreeBytes === undefined) dbDiskFree.reset();
      else dbDiskFree.set(snapshot.diskFreeBytes);
      return registry.metrics();
    },
  };
}

export type PrometheusMetrics = ReturnType<typeof createPrometheusMetrics>;
