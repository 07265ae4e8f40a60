import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import type { Pricer } from '../pricing/types.js';
import type {
  ReportedUsage,
  ReportKind,
  ReportProvider,
  ReportSyncState,
} from '../storage/provider-reports.js';
import type { Store } from '../storage/store.js';
import { AdminApiError, type AdminClient, createAdminClient } from './admin-client.js';
import { anthropicCostPages, anthropicUsagePages } from './anthropic-reports.js';
import type { DriftAlertSink } from './drift-alerts.js';
import { openAiCostPages, openAiUsagePages } from './openai-reports.js';
import { DAY_MS, dayOf, reconcile, startOfDay } from './reconcile.js';
import type { CostPage, ReportRange, UsagePage } from './report-pages.js';

/**
 * The scheduled pull of provider reports. Each (provider, report) keeps where it got to: the first
 * run backfills REPORTS_BACKFILL_DAYS, later runs start OVERLAP_DAYS before that point (providers
 * settle a day's numbers for a while) and go to the end of today. Every page replaces the buckets
 * it covers and moves the point on in one transaction, so a run is idempotent and one that fails
 * half way resumes where it stopped. One report failing does not stop the others.
 *
 * After a run, reconciliation over the days pulled raises a drift alert (once per day, model and
 * project, again only when the drift moved by more than the threshold) for days that are over and
 * settled.
 */

export const OVERLAP_DAYS = 2;
/** A day is compared for alerts only this long after it ended: provider reports lag. */
export const SETTLE_MS = 6 * 3_600_000;

export interface ReportJobResult {
  provider: ReportProvider;
  report: ReportKind;
  pages: number;
  rows: number;
  error: string | null;
}

export interface SyncSummary {
  startedAt: number;
  finishedAt: number;
  jobs: ReportJobResult[];
  driftAlerts: number;
}

export interface ReportSync {
  /** Providers with an admin key. */
  readonly providers: readonly ReportProvider[];
  /** Pulls every configured report now; a call while a run is going joins that run. */
  syncNow(): Promise<SyncSummary>;
  /** Runs syncNow every REPORTS_SYNC_MINUTES (first run right away); no-op without providers. */
  start(): void;
  /** Stops the schedule and waits for a running pull. */
  stop(): Promise<void>;
}

export interface ReportSyncDeps {
  config: Config;
  store: Store;
  pricer: Pricer;
  clock: Clock;
  drift: DriftAlertSink;
  log: { info(object: object, message: string): void; warn(object: object, message: string): void };
  /** Waits between admin API retries; tests pass one that does not wait on a real timer. */
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

interface Job {
  provider: ReportProvider;
  report: ReportKind;
  pages(get: AdminClient, range: ReportRange): AsyncGenerator<UsagePage | CostPage>;
}

const JOBS: readonly Job[] = [
  {
    provider: 'openai',
    report: 'completions',
    pages: (get, range) => openAiUsagePages(get, 'completions', range),
  },
  {
    provider: 'openai',
    report: 'embeddings',
    pages: (get, range) => openAiUsagePages(get, 'embeddings', range),
  },
  { provider: 'openai', report: 'costs', pages: openAiCostPages },
  { provider: 'anthropic', report: 'messages', pages: anthropicUsagePages },
  { provider: 'anthropic', report: 'costs', pages: anthropicCostPages },
];

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Tiers that price as the default: the pricer knows only the others. */
const DEFAULT_TIERS = new Set(['', 'default', 'standard', 'auto', 'batch']);

export function createReportSync(deps: ReportSyncDeps): ReportSync {
  const { config, store, pricer, clock, log } = deps;
  const settings = config.providerReports;
  const providers = (['openai', 'anthropic'] as const).filter((p) => settings[p].adminKey !== undefined);
  const clients = new Map<ReportProvider, AdminClient>();
  for (const provider of providers) {
    const api = settings[provider];
    const key = api.adminKey ?? '';
    clients.set(
      provider,
      createAdminClient({
        baseUrl: api.baseUrl,
        headers:
          provider === 'openai'
            ? { authorization: `Bearer ${key}` }
            : { 'x-api-key': key, 'anthropic-version': '2023-06-01' },
        sleep: deps.sleep ?? realSleep,
        fetch: deps.fetch,
      }),
    );
  }

  function estimate(row: ReportedUsage): ReportedUsage {
    if (row.model === '') return row;
    const tier = row.serviceTier.toLowerCase();
    const priced = pricer.price({
      provider: row.provider,
      model: row.model,
      atMs: row.bucketStartMs,
      usage: {
        promptTokens: row.promptTokens,
        completionTokens: row.completionTokens,
        totalTokens: row.promptTokens + row.completionTokens,
        cachedTokens: row.cachedTokens,
        cacheWriteTokens: row.cacheWriteTokens,
        cacheWriteExtendedTokens: row.cacheWriteExtendedTokens,
        reasoningTokens: 0,
        inputAudioTokens: row.inputAudioTokens,
        outputAudioTokens: row.outputAudioTokens,
      },
      serviceTier: DEFAULT_TIERS.has(tier) ? null : tier,
      batch: row.batch,
      completionWindow: null,
    });
    return { ...row, estimatedCostNanoUsd: priced.costNanoUsd };
  }

  async function runJob(
    job: Job,
    previous: ReportSyncState | undefined,
    nowMs: number,
  ): Promise<ReportJobResult> {
    const today = startOfDay(nowMs);
    const startMs =
      previous?.syncedThroughMs != null
        ? Math.max(previous.syncedThroughMs - OVERLAP_DAYS * DAY_MS, today - settings.backfillDays * DAY_MS)
        : today - settings.backfillDays * DAY_MS;
    const range = { startMs: startOfDay(startMs), endMs: today + DAY_MS };
    const state: ReportSyncState = {
      provider: job.provider,
      report: job.report,
      syncedThroughMs: previous?.syncedThroughMs ?? null,
      lastRunAt: nowMs,
      lastSuccessAt: previous?.lastSuccessAt ?? null,
      lastError: previous?.lastError ?? null,
    };
    const result: ReportJobResult = {
      provider: job.provider,
      report: job.report,
      pages: 0,
      rows: 0,
      error: null,
    };
    const get = clients.get(job.provider);
    if (!get) return result;
    try {
      for await (const page of job.pages(get, range)) {
        result.pages += 1;
        result.rows += page.rows.length;
        // Today's bucket is not over: the next run pulls it again.
        if (page.lastBucketEndMs !== null)
          state.syncedThroughMs = Math.max(state.syncedThroughMs ?? 0, Math.min(page.lastBucketEndMs, today));
        if (job.report === 'costs') {
          await store.reports.replaceCostBuckets(job.provider, page.bucketStartsMs, (page as CostPage).rows, {
            ...state,
          });
        } else {
          const rows = (page as UsagePage).rows.map(estimate);
          await store.reports.replaceUsageBuckets(
            job.provider,
            job.report as 'completions' | 'embeddings' | 'messages',
            page.bucketStartsMs,
            rows,
            { ...state },
          );
        }
      }
      state.syncedThroughMs = Math.max(state.syncedThroughMs ?? 0, today);
      state.lastSuccessAt = nowMs;
      state.lastError = null;
    } catch (error) {
      // AdminApiError messages never hold a key or a body; anything else is reported by its kind.
      result.error =
        error instanceof AdminApiError ? error.message : `internal error (${(error as Error).name})`;
      state.lastError = result.error;
      log.warn(
        { provider: job.provider, report: job.report, error: result.error },
        'Provider report pull failed',
      );
    }
    await store.reports.saveSyncState(state);
    return result;
  }

  async function raiseDrift(startMs: number, nowMs: number): Promise<number> {
    const settledEnd = startOfDay(nowMs - SETTLE_MS);
    if (settledEnd <= startMs) return 0;
    const rows = await reconcile({ store }, { startMs, endMs: settledEnd });
    let raised = 0;
    for (const row of rows) {
      if (!providers.includes(row.provider) || row.reported.costSource === 'none') continue;
      const drift = row.driftNanoUsd;
      const share = row.driftPercent === null ? Number.POSITIVE_INFINITY : Math.abs(row.driftPercent);
      if (Math.abs(drift) < settings.driftAlertMinNanoUsd || share < settings.driftAlertPercent) continue;
      const key = `${row.provider}:${row.day}:${row.model}:${row.projectId ?? '*'}`;
      const before = await store.reports.findRaisedDrift(key);
      if (before && Math.abs(before.driftNanoUsd - drift) < settings.driftAlertMinNanoUsd) continue;
      await deps.drift.emit({
        kind: 'provider_drift',
        provider: row.provider,
        day: row.day,
        model: row.model,
        projectId: row.projectId,
        ingestTokenId: row.ingestTokenId,
        pushedCostNanoUsd: row.pushed.costNanoUsd,
        reportedCostNanoUsd: row.reported.costNanoUsd,
        reportedCostSource: row.reported.costSource as 'reported' | 'estimated',
        driftNanoUsd: drift,
        driftPercent: row.driftPercent,
        detectedAt: nowMs,
      });
      await store.reports.saveRaisedDrift({ key, driftNanoUsd: drift, raisedAt: nowMs });
      raised += 1;
    }
    return raised;
  }

  async function run(): Promise<SyncSummary> {
    const startedAt = clock.now();
    const states = new Map(
      (await store.reports.listSyncStates()).map((state) => [`${state.provider}:${state.report}`, state]),
    );
    const jobs: ReportJobResult[] = [];
    let earliest = startOfDay(startedAt);
    for (const job of JOBS) {
      if (!providers.includes(job.provider)) continue;
      const previous = states.get(`${job.provider}:${job.report}`);
      earliest = Math.min(
        earliest,
        previous?.syncedThroughMs != null
          ? startOfDay(previous.syncedThroughMs - OVERLAP_DAYS * DAY_MS)
          : startOfDay(startedAt) - settings.backfillDays * DAY_MS,
      );
      jobs.push(await runJob(job, previous, startedAt));
    }
    const driftAlerts = providers.length > 0 ? await raiseDrift(earliest, startedAt) : 0;
    const summary = { startedAt, finishedAt: clock.now(), jobs, driftAlerts };
    log.info(
      { jobs: jobs.map((j) => `${j.provider}/${j.report}: ${j.error ?? `${j.rows} rows`}`), driftAlerts },
      `Provider reports pulled through ${dayOf(startedAt)}`,
    );
    return summary;
  }

  let running: Promise<SyncSummary> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const syncNow = () => {
    running ??= run().finally(() => {
      running = null;
    });
    return running;
  };

  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      syncNow()
        .catch((error: unknown) => log.warn({ error: (error as Error).name }, 'Provider report sync failed'))
        .finally(() => schedule(settings.syncIntervalMs));
    }, delayMs);
    timer.unref();
  };

  return {
    providers,
    syncNow,
    start() {
      if (providers.length === 0 || timer || stopped) return;
      schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}
