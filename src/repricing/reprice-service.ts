import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { PricingEngine } from '../pricing/pricing-engine.js';
import type { Pricer } from '../pricing/types.js';
import type {
  RepricedCost,
  RepriceRow,
  RepriceRun,
  RepriceScope,
  Store,
  StoredPricing,
  UsageCursor,
} from '../storage/store.js';
import { createPriceBook, loadPriceFile, type PriceBook } from './price-book.js';

/**
 * Reprice: the only way stored costs change. It prices the rows in scope again with the price
 * book in force and, unless it is a dry run, writes the rows whose pricing changed through
 * Store.applyRepricedCosts, which records every old value under an audited run (who, when, scope,
 * price sources) so that the run can be inspected and undone. Work goes in bounded chunks, one
 * transaction each, yielding between them, so ingest keeps flowing during a long run.
 * The CLI calls reprice() directly; the admin API calls it through http/prices.ts.
 */

export interface RepriceRequest extends RepriceScope {
  dryRun: boolean;
  actor: string;
  requestId?: string | null;
  /**
   * Whether rows stored under the default provider move to the provider their model name belongs
   * to now (infer-provider.ts), e.g. claude-* rows stored as openai before inference existed.
   * Default true; only when the service was given the default provider.
   */
  inferProviders?: boolean;
}

/** Rows of one model that a run moves (or would move) from one provider to another. */
export interface ProviderMove {
  model: string;
  from: string;
  to: string;
  rows: number;
}

export interface ModelDelta {
  provider: string;
  model: string;
  rows: number;
  changed: number;
  unpricedBefore: number;
  unpricedAfter: number;
  oldTotalNanoUsd: number;
  newTotalNanoUsd: number;
  deltaNanoUsd: number;
}

export interface RepriceResult {
  dryRun: boolean;
  scope: RepriceScope;
  /** Rows in scope. */
  rows: number;
  /** Rows whose cost, status, source, rates or provider differ under the current prices. */
  changed: number;
  /** Rows moved to another provider, per model and move (before skips). */
  providerMoves: ProviderMove[];
  /** Rows that changed under us between read and write (not overwritten). 0 on a dry run. */
  skipped: number;
  unpricedBefore: number;
  unpricedAfter: number;
  /** Over every row in scope; an unpriced row counts 0. */
  oldTotalNanoUsd: number;
  newTotalNanoUsd: number;
  deltaNanoUsd: number;
  byModel: ModelDelta[];
  /** The audit run id; null on a dry run or when nothing changed. */
  auditId: number | null;
  priceSources: readonly string[];
}

export interface RepriceService {
  reprice(request: RepriceRequest): Promise<RepriceResult>;
  /** Restores the old pricing of every row a run changed that still has the run's new pricing. */
  undo(runId: number, meta: { actor: string; requestId?: string | null }): Promise<RepriceResult>;
  getRun(runId: number): Promise<RepriceRun>;
  listRuns(limit: number): Promise<RepriceRun[]>;
  listChanges(runId: number, afterUsageId: number, limit: number): Promise<RepricedCost[]>;
}

export const REPRICE_CHUNK_ROWS = 5000;

/**
 * The provider a stored row belongs to now: a row stored under the default provider moves to the
 * one inference finds for its model (as ingest would store it today); any other stays. Only the
 * provider moves: the model keeps its stored spelling (pricing strips a prefix naming the provider).
 */
function providerNow(engine: PricingEngine, row: RepriceRow, defaultProvider: string | undefined): string {
  if (defaultProvider === undefined || row.provider !== defaultProvider) return row.provider;
  return engine.inferProvider(row.model, defaultProvider).provider;
}

function priceRow(pricer: Pricer, row: RepriceRow, provider: string): StoredPricing {
  const result = pricer.price({
    provider,
    model: row.model,
    atMs: row.ts,
    usage: row,
    serviceTier: row.serviceTier,
    batch: row.batch,
    completionWindow: row.completionWindow,
  });
  return {
    costNanoUsd: result.costNanoUsd,
    status: result.status,
    source: result.source,
    rates: result.ratesJson,
  };
}

function differs(a: StoredPricing, b: StoredPricing): boolean {
  return (
    a.costNanoUsd !== b.costNanoUsd || a.status !== b.status || a.source !== b.source || a.rates !== b.rates
  );
}

interface Totals {
  rows: number;
  changed: number;
  unpricedBefore: number;
  unpricedAfter: number;
  oldTotalNanoUsd: number;
  newTotalNanoUsd: number;
}

const emptyTotals = (): Totals => ({
  rows: 0,
  changed: 0,
  unpricedBefore: 0,
  unpricedAfter: 0,
  oldTotalNanoUsd: 0,
  newTotalNanoUsd: 0,
});

function addTo(totals: Totals, before: StoredPricing, after: StoredPricing, changed: boolean): void {
  totals.rows += 1;
  if (changed) totals.changed += 1;
  if (before.costNanoUsd === null) totals.unpricedBefore += 1;
  if (after.costNanoUsd === null) totals.unpricedAfter += 1;
  totals.oldTotalNanoUsd += before.costNanoUsd ?? 0;
  totals.newTotalNanoUsd += after.costNanoUsd ?? 0;
}

/** Running totals of a run, overall and per model. */
class Tally {
  readonly all = emptyTotals();
  skipped = 0;
  private readonly models = new Map<string, Totals & { provider: string; model: string }>();
  private readonly moves = new Map<string, ProviderMove>();

  move(model: string, from: string, to: string): void {
    const key = `${model}\u0000${from}\u0000${to}`;
    const entry = this.moves.get(key);
    if (entry) entry.rows += 1;
    else this.moves.set(key, { model, from, to, rows: 1 });
  }

  add(
    row: { provider: string; model: string } | null,
    before: StoredPricing,
    after: StoredPricing,
    changed: boolean,
  ) {
    addTo(this.all, before, after, changed);
    if (!row) return;
    const key = `${row.provider}\u0000${row.model}`;
    let entry = this.models.get(key);
    if (!entry) {
      entry = { provider: row.provider, model: row.model, ...emptyTotals() };
      this.models.set(key, entry);
    }
    addTo(entry, before, after, changed);
  }

  result(
    dryRun: boolean,
    scope: RepriceScope,
    auditId: number | null,
    priceSources: readonly string[],
  ): RepriceResult {
    const { all } = this;
    return {
      dryRun,
      scope,
      rows: all.rows,
      changed: all.changed - this.skipped,
      providerMoves: [...this.moves.values()].sort(
        (a, b) => a.model.localeCompare(b.model) || a.from.localeCompare(b.from) || a.to.localeCompare(b.to),
      ),
      skipped: this.skipped,
      unpricedBefore: all.unpricedBefore,
      unpricedAfter: all.unpricedAfter,
      oldTotalNanoUsd: all.oldTotalNanoUsd,
      newTotalNanoUsd: all.newTotalNanoUsd,
      deltaNanoUsd: all.newTotalNanoUsd - all.oldTotalNanoUsd,
      byModel: [...this.models.values()]
        .map((entry) => ({ ...entry, deltaNanoUsd: entry.newTotalNanoUsd - entry.oldTotalNanoUsd }))
        .sort((a, b) => a.model.localeCompare(b.model) || a.provider.localeCompare(b.provider)),
      auditId,
      priceSources,
    };
  }
}

export function createRepriceService(deps: {
  store: Store;
  prices: PriceBook;
  clock: Clock;
  chunkRows?: number;
  /** PROVIDER: rows stored under it may move to an inferred provider; absent, providers never change. */
  defaultProvider?: string;
}): RepriceService {
  const { store, prices, clock, defaultProvider } = deps;
  const chunkRows = deps.chunkRows ?? REPRICE_CHUNK_ROWS;
  let running = false;

  async function exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (running)
      throw new AppError('conflict', 'a reprice is already running; try again when it has finished');
    running = true;
    try {
      return await work();
    } finally {
      running = false;
    }
  }

  async function finish(runId: number, rowsScanned: number, error: unknown): Promise<void> {
    await store.finishRepriceRun(runId, {
      status: error === undefined ? 'done' : 'failed',
      finishedAt: clock.now(),
      rowsScanned,
      error: error === undefined ? null : error instanceof Error ? error.message : String(error),
    });
  }

  async function getRun(runId: number): Promise<RepriceRun> {
    const run = await store.getRepriceRun(runId);
    if (!run) throw new AppError('not_found', `No reprice run with id ${runId}`);
    return run;
  }

  return {
    reprice(request) {
      const scope: RepriceScope = {
        ...(request.model !== undefined ? { model: request.model } : {}),
        ...(request.startMs !== undefined ? { startMs: request.startMs } : {}),
        ...(request.endMs !== undefined ? { endMs: request.endMs } : {}),
      };
      if (scope.startMs !== undefined && scope.endMs !== undefined && scope.startMs > scope.endMs) {
        return Promise.reject(new AppError('invalid_request', 'start must not be after end'));
      }
      const inferProviders = defaultProvider !== undefined && request.inferProviders !== false;
      return exclusive(async () => {
        // One engine for the whole run, even if overrides change meanwhile: the audit names its sources.
        const engine = prices.current();
        const tally = new Tally();
        let runId: number | null = null;
        let after: UsageCursor | null = null;
        try {
          while (true) {
            const rows = await store.scanUsageForReprice(scope, after, chunkRows);
            if (rows.length === 0) break;
            // Reading, pricing and writing a chunk each hold the event loop: let ingest in between.
            await nextTurn();
            const changes: RepricedCost[] = [];
            for (const row of rows) {
              const before: StoredPricing = {
                costNanoUsd: row.costNanoUsd,
                status: row.pricingStatus,
                source: row.pricingSource,
                rates: row.pricingRates,
              };
              const provider = inferProviders ? providerNow(engine, row, defaultProvider) : row.provider;
              const after = priceRow(engine, row, provider);
              const moved = provider !== row.provider;
              const changed = moved || differs(before, after);
              tally.add(row, before, after, changed);
              if (moved) tally.move(row.model, row.provider, provider);
              if (changed) {
                changes.push({
                  usageId: row.id,
                  old: before,
                  new: after,
                  ...(moved ? { provider: { old: row.provider, new: provider } } : {}),
                });
              }
            }
            const last = rows[rows.length - 1];
            if (last) after = { ts: last.ts, id: last.id };
            if (!request.dryRun && changes.length > 0) {
              runId ??= await store.createRepriceRun({
                kind: 'reprice',
                undoOf: null,
                actor: request.actor,
                requestId: request.requestId ?? null,
                startedAt: clock.now(),
                scope,
                priceSources: engine.sources,
              });
              const { skipped } = await store.applyRepricedCosts(runId, changes);
              tally.skipped += skipped;
            }
            if (rows.length < chunkRows) break;
            await nextTurn();
          }
        } catch (error) {
          if (runId !== null) await finish(runId, tally.all.rows, error);
          throw error;
        }
        if (runId !== null) await finish(runId, tally.all.rows, undefined);
        return tally.result(request.dryRun, scope, runId, engine.sources);
      });
    },

    undo(runId, meta) {
      return exclusive(async () => {
        const run = await getRun(runId);
        if (run.kind !== 'reprice')
          throw new AppError('invalid_request', `run ${runId} is an undo; reprice instead`);
        if (run.status === 'running') throw new AppError('conflict', `run ${runId} has not finished`);
        const undoId = await store.createRepriceRun({
          kind: 'undo',
          undoOf: runId,
          actor: meta.actor,
          requestId: meta.requestId ?? null,
          startedAt: clock.now(),
          scope: run.scope,
          priceSources: run.priceSources,
        });
        const tally = new Tally();
        let afterUsageId = 0;
        try {
          while (true) {
            const recorded = await store.listRepriceChanges(runId, afterUsageId, chunkRows);
            if (recorded.length === 0) break;
            const reverse = recorded.map((change) => ({
              usageId: change.usageId,
              old: change.new,
              new: change.old,
              ...(change.provider
                ? { provider: { old: change.provider.new, new: change.provider.old } }
                : {}),
            }));
            for (const change of reverse) tally.add(null, change.old, change.new, true);
            const { skipped } = await store.applyRepricedCosts(undoId, reverse);
            tally.skipped += skipped;
            afterUsageId = recorded[recorded.length - 1]?.usageId ?? afterUsageId;
            if (recorded.length < chunkRows) break;
            await nextTurn();
          }
        } catch (error) {
          await finish(undoId, tally.all.rows, error);
          throw error;
        }
        await finish(undoId, tally.all.rows, undefined);
        return tally.result(false, run.scope, undoId, run.priceSources);
      });
    },

    getRun,
    listRuns: (limit) => store.listRepriceRuns(limit),

    async listChanges(runId, afterUsageId, limit) {
      await getRun(runId);
      return store.listRepriceChanges(runId, afterUsageId, limit);
    },
  };
}

/**
 * For the CLI: a reprice service on the prices the server would use (PRICES_FILE, then the
 * database's overrides). Throws PriceFileError for a bad PRICES_FILE, like server startup; stored
 * override entries this build refuses are skipped and passed to `warn`, as the server logs them.
 */
export async function createRepriceServiceFromConfig(deps: {
  config: Config;
  store: Store;
  clock: Clock;
  warn?: (message: string) => void;
}): Promise<RepriceService> {
  const { config, store, clock } = deps;
  const file = config.pricesFile ? loadPriceFile(config.pricesFile) : null;
  const prices = await createPriceBook({ store, clock, file });
  for (const message of prices.refused()) deps.warn?.(message);
  return createRepriceService({ store, prices, clock, defaultProvider: config.defaultProvider });
}
