import type Database from 'better-sqlite3';
import type {
  NewRepriceRun,
  PriceOverrideVersion,
  RepricedCost,
  RepriceRow,
  RepriceRun,
  RepriceRunSummary,
  RepriceScope,
  Store,
  TokenCounts,
} from '../store.js';
import type { BudgetCostChange, BudgetLedger } from './budget-ledger.js';
import { type RateSetIds, storedRatesSql } from './rate-sets.js';
import { RollupDelta, type RollupWriter } from './rollup-writer.js';
import { tagsFromJson } from './usage-columns.js';
import type { WriteQueue } from './write-queue.js';

/**
 * The SQLite side of pricing: override versions, the reprice scan, and the one statement that
 * changes a stored cost (applyRepricedCosts), together with its audit rows.
 */

type PricingMethods = Pick<
  Store,
  | 'latestPriceOverrides'
  | 'savePriceOverrides'
  | 'scanUsageForReprice'
  | 'createRepriceRun'
  | 'applyRepricedCosts'
  | 'finishRepriceRun'
  | 'getRepriceRun'
  | 'listRepriceRuns'
  | 'listRepriceChanges'
>;

const OVERRIDE_COLUMNS = 'version, document, created_at AS createdAt, actor, note';

const REPRICE_COLUMNS = `
  id, ts, provider, model,
  prompt_tokens AS promptTokens, completion_tokens AS completionTokens, total_tokens AS totalTokens,
  cached_tokens AS cachedTokens, cache_write_tokens AS cacheWriteTokens,
  cache_write_extended_tokens AS cacheWriteExtendedTokens, reasoning_tokens AS reasoningTokens,
  input_audio_tokens AS inputAudioTokens, output_audio_tokens AS outputAudioTokens,
  service_tier AS serviceTier, batch, completion_window AS completionWindow,
  cost_nanousd AS costNanoUsd, pricing_status AS pricingStatus, pricing_source AS pricingSource,
  ${storedRatesSql('usage_log')} AS pricingRates`;

const RUN_COLUMNS = `
  id, kind, undo_of AS undoOf, status, actor, request_id AS requestId, started_at AS startedAt,
  finished_at AS finishedAt, scope, price_sources AS priceSources, rows_scanned AS rowsScanned,
  rows_changed AS rowsChanged, rows_skipped AS rowsSkipped, old_total_nanousd AS oldTotalNanoUsd,
  new_total_nanousd AS newTotalNanoUsd, error`;

type RawRun = Omit<RepriceRun, 'scope' | 'priceSources'> & { scope: string; priceSources: string };

function toRun(raw: RawRun): RepriceRun {
  const scope = JSON.parse(raw.scope) as { model?: string; start_ms?: number; end_ms?: number };
  return {
    ...raw,
    scope: {
      ...(scope.model !== undefined ? { model: scope.model } : {}),
      ...(scope.start_ms !== undefined ? { startMs: scope.start_ms } : {}),
      ...(scope.end_ms !== undefined ? { endMs: scope.end_ms } : {}),
    },
    priceSources: JSON.parse(raw.priceSources) as string[],
  };
}

interface RollupKeyRow extends TokenCounts {
  ts: number;
  ingestTokenId: number | null;
  provider: string;
  model: string;
  user: string | null;
  tags: string | null;
}

interface RawChange {
  usageId: number;
  oldCost: number | null;
  oldStatus: RepricedCost['old']['status'];
  oldSource: string | null;
  oldRates: string | null;
  newCost: number | null;
  newStatus: RepricedCost['new']['status'];
  newSource: string | null;
  newRates: string | null;
  oldProvider: string | null;
  newProvider: string | null;
}

/**
 * `rollups` receives every applied cost change, in the transaction that applies it; `rateSets`
 * stores the new rates (the writer's, cleared when a transaction rolls back).
 */
export function createPricingMethods(
  db: Database.Database,
  writes: WriteQueue,
  rollups: RollupWriter,
  rateSets: RateSetIds,
  budgets?: BudgetLedger,
): PricingMethods {
  const latestOverrides = db.prepare(
    `SELECT ${OVERRIDE_COLUMNS} FROM price_override_versions ORDER BY version DESC LIMIT 1`,
  );
  const insertOverrides = db.prepare(
    `INSERT INTO price_override_versions (document, created_at, actor, note)
     VALUES (@document, @createdAt, @actor, @note) RETURNING ${OVERRIDE_COLUMNS}`,
  );
  const scanStatements = new Map<string, Database.Statement>();
  const insertRun = db.prepare(
    `INSERT INTO reprice_runs (kind, undo_of, status, actor, request_id, started_at, scope, price_sources)
     VALUES (@kind, @undoOf, 'running', @actor, @requestId, @startedAt, @scope, @priceSources) RETURNING id`,
  );
  const updateCost = db.prepare(
    `UPDATE usage_log
        SET cost_nanousd = @newCost, pricing_status = @newStatus, pricing_source = @newSource,
            pricing_rates = NULL, pricing_rates_id = @newRatesId
      WHERE id = @usageId AND cost_nanousd IS @oldCost AND pricing_status = @oldStatus
        AND pricing_source IS @oldSource`,
  );
  const updateCostAndProvider = db.prepare(
    `UPDATE usage_log
        SET cost_nanousd = @newCost, pricing_status = @newStatus, pricing_source = @newSource,
            pricing_rates = NULL, pricing_rates_id = @newRatesId, provider = @newProvider
      WHERE id = @usageId AND cost_nanousd IS @oldCost AND pricing_status = @oldStatus
        AND pricing_source IS @oldSource AND provider = @oldProvider`,
  );
  const findRollupKey = db.prepare(
    `SELECT ts, ingest_token_id AS ingestTokenId, provider, model, end_user AS user, tags,
            prompt_tokens AS promptTokens, completion_tokens AS completionTokens, total_tokens AS totalTokens,
            cached_tokens AS cachedTokens, cache_write_tokens AS cacheWriteTokens,
            cache_write_extended_tokens AS cacheWriteExtendedTokens, reasoning_tokens AS reasoningTokens,
            input_audio_tokens AS inputAudioTokens, output_audio_tokens AS outputAudioTokens
       FROM usage_log WHERE id = ?`,
  );
  const insertChange = db.prepare(
    `INSERT INTO reprice_changes (run_id, usage_id, old_cost_nanousd, old_status, old_source, old_rates,
                                  new_cost_nanousd, new_status, new_source, new_rates, old_provider, new_provider)
     VALUES (@runId, @usageId, @oldCost, @oldStatus, @oldSource, @oldRates,
             @newCost, @newStatus, @newSource, @newRates, @oldProvider, @newProvider)`,
  );
  const addToRun = db.prepare(
    `UPDATE reprice_runs
        SET rows_changed = rows_changed + @applied, rows_skipped = rows_skipped + @skipped,
            old_total_nanousd = old_total_nanousd + @oldTotal, new_total_nanousd = new_total_nanousd + @newTotal
      WHERE id = @runId`,
  );
  const finishRun = db.prepare(
    `UPDATE reprice_runs SET status = @status, finished_at = @finishedAt, rows_scanned = @rowsScanned,
            error = @error WHERE id = @runId`,
  );
  const getRun = db.prepare(`SELECT ${RUN_COLUMNS} FROM reprice_runs WHERE id = ?`);
  const listRuns = db.prepare(`SELECT ${RUN_COLUMNS} FROM reprice_runs ORDER BY id DESC LIMIT ?`);
  const listChanges = db.prepare(
    `SELECT usage_id AS usageId, old_cost_nanousd AS oldCost, old_status AS oldStatus, old_source AS oldSource,
            old_rates AS oldRates, new_cost_nanousd AS newCost, new_status AS newStatus,
            new_source AS newSource, new_rates AS newRates, old_provider AS oldProvider,
            new_provider AS newProvider
       FROM reprice_changes WHERE run_id = ? AND usage_id > ? ORDER BY usage_id LIMIT ?`,
  );

  // Keyset on (ts, id): idx_usage_model_ts or idx_usage_ts serve both the filter and the order, so a
  // chunk never sorts or rescans the model's earlier rows.
  function scanStatement(scope: RepriceScope, resume: boolean): Database.Statement {
    const conditions = resume ? ['(ts, id) > (@afterTs, @afterId)'] : ['1'];
    if (scope.model !== undefined) conditions.push('model = @model');
    if (scope.startMs !== undefined) conditions.push('ts >= @startMs');
    if (scope.endMs !== undefined) conditions.push('ts <= @endMs');
    const sql = `SELECT ${REPRICE_COLUMNS} FROM usage_log WHERE ${conditions.join(' AND ')} ORDER BY ts, id LIMIT @limit`;
    let statement = scanStatements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      scanStatements.set(sql, statement);
    }
    return statement;
  }

  return {
    async latestPriceOverrides(): Promise<PriceOverrideVersion | undefined> {
      return latestOverrides.get() as PriceOverrideVersion | undefined;
    },

    savePriceOverrides(input): Promise<PriceOverrideVersion> {
      return writes.enqueue(() => insertOverrides.get(input) as PriceOverrideVersion);
    },

    async scanUsageForReprice(scope, after, limit): Promise<RepriceRow[]> {
      const params: Record<string, number | string> = { limit };
      if (after) {
        params.afterTs = after.ts;
        params.afterId = after.id;
      }
      if (scope.model !== undefined) params.model = scope.model;
      if (scope.startMs !== undefined) params.startMs = scope.startMs;
      if (scope.endMs !== undefined) params.endMs = scope.endMs;
      const rows = scanStatement(scope, after !== null).all(params) as (Omit<RepriceRow, 'batch'> & {
        batch: number;
      })[];
      return rows.map((row) => ({ ...row, batch: row.batch === 1 }));
    },

    createRepriceRun(run: NewRepriceRun): Promise<number> {
      const scope = JSON.stringify({
        model: run.scope.model,
        start_ms: run.scope.startMs,
        end_ms: run.scope.endMs,
      });
      return writes.enqueue(
        () =>
          (
            insertRun.get({
              kind: run.kind,
              undoOf: run.undoOf,
              actor: run.actor,
              requestId: run.requestId,
              startedAt: run.startedAt,
              scope,
              priceSources: JSON.stringify(run.priceSources),
            }) as { id: number }
          ).id,
      );
    },

    applyRepricedCosts(runId, changes) {
      return writes.enqueue(
        () => {
          let applied = 0;
          let oldTotal = 0;
          let newTotal = 0;
          const delta = new RollupDelta();
          const budgetChanges: BudgetCostChange[] = [];
          for (const change of changes) {
            const params = {
              runId,
              usageId: change.usageId,
              oldCost: change.old.costNanoUsd,
              oldStatus: change.old.status,
              oldSource: change.old.source,
              oldRates: change.old.rates,
              newCost: change.new.costNanoUsd,
              newStatus: change.new.status,
              newSource: change.new.source,
              newRates: change.new.rates,
              newRatesId: rateSets.idFor(change.new.rates),
              oldProvider: change.provider?.old ?? null,
              newProvider: change.provider?.new ?? null,
            };
            const update = change.provider ? updateCostAndProvider : updateCost;
            if (update.run(params).changes !== 1) continue;
            insertChange.run(params);
            const row = findRollupKey.get(change.usageId) as RollupKeyRow;
            const key = { ...row, tags: tagsFromJson(row.tags) };
            if (change.provider) {
              // The row leaves its old provider's rollup rows and joins the new one's.
              delta.addRow(
                { ...key, provider: change.provider.old, costNanoUsd: change.old.costNanoUsd },
                -1,
              );
              delta.addRow({ ...key, provider: change.provider.new, costNanoUsd: change.new.costNanoUsd });
            } else {
              delta.addCostChange(key, change.old.costNanoUsd, change.new.costNanoUsd);
            }
            budgetChanges.push({
              row: change.provider ? { ...key, provider: change.provider.new } : key,
              before: change.old.costNanoUsd,
              after: change.new.costNanoUsd,
              ...(change.provider ? { fromProvider: change.provider.old } : {}),
            });
            applied += 1;
            oldTotal += change.old.costNanoUsd ?? 0;
            newTotal += change.new.costNanoUsd ?? 0;
          }
          const skipped = changes.length - applied;
          addToRun.run({ runId, applied, skipped, oldTotal, newTotal });
          budgets?.stageCostChanges(budgetChanges);
          rollups.stage(delta);
          return { applied, skipped };
        },
        Math.max(1, changes.length),
      );
    },

    finishRepriceRun(runId, summary: RepriceRunSummary): Promise<void> {
      return writes.enqueue(() => {
        finishRun.run({ runId, ...summary });
      });
    },

    async getRepriceRun(runId): Promise<RepriceRun | undefined> {
      const raw = getRun.get(runId) as RawRun | undefined;
      return raw ? toRun(raw) : undefined;
    },

    async listRepriceRuns(limit): Promise<RepriceRun[]> {
      return (listRuns.all(limit) as RawRun[]).map(toRun);
    },

    async listRepriceChanges(runId, afterUsageId, limit): Promise<RepricedCost[]> {
      return (listChanges.all(runId, afterUsageId, limit) as RawChange[]).map((row) => ({
        usageId: row.usageId,
        old: { costNanoUsd: row.oldCost, status: row.oldStatus, source: row.oldSource, rates: row.oldRates },
        new: { costNanoUsd: row.newCost, status: row.newStatus, source: row.newSource, rates: row.newRates },
        ...(row.oldProvider !== null && row.newProvider !== null
          ? { provider: { old: row.oldProvider, new: row.newProvider } }
          : {}),
      }));
    },
  };
}
