import type Database from 'better-sqlite3';
import { scopeFilter } from '../../budgets/scope.js';
import { bucketOf, DAY_MS, HOUR_MS } from '../../budgets/window.js';
import type {
  Budget,
  BudgetScope,
  BudgetSpendBucket,
  BudgetStore,
  NewBudget,
  SaveBudgetResult,
} from '../store.js';
import { type TimeInterval, TOTALS_FIELDS } from '../usage-aggregate.js';
import { AggregateQueries, analyticsFilterSql } from './aggregate-queries.js';
import { BUDGET_COLUMNS, type BudgetLedger, type BudgetRow, toBudget } from './budget-ledger.js';
import { ROLLUP_TABLES } from './rollup-writer.js';
import type { WriteQueue } from './write-queue.js';

/**
 * The SQLite side of budgets: the budget rows, and countHistory, which sums a slice of a budget's
 * past with the analytics code itself (AggregateQueries: rollups, and usage rows only for what
 * they cannot answer), so that a budget's spend is what /usage/summary says for the same scope and
 * window. Counting and verdicts on the write path are the ledger's (budget-ledger.ts).
 */

/** Rows may carry a ts up to a day ahead of the server (ingest refuses more); a margin on top. */
const FUTURE_MARGIN_MS = 26 * HOUR_MS;

interface Sums {
  cost: number;
  unpriced: number;
  requests: number;
}

function sameCounting(a: Budget, b: NewBudget & { bucketMs: number }): boolean {
  return (
    JSON.stringify(a.window) === JSON.stringify(b.window) &&
    JSON.stringify(a.scope) === JSON.stringify(b.scope) &&
    a.bucketMs === b.bucketMs
  );
}

export function createBudgetStore(
  db: Database.Database,
  writes: WriteQueue,
  ledger: BudgetLedger,
  bucketMsFor: (input: NewBudget, nowMs: number) => number,
): BudgetStore {
  const aggregates = new AggregateQueries(db);
  const list = db.prepare(`SELECT ${BUDGET_COLUMNS} FROM budgets ORDER BY id`);
  const get = db.prepare(`SELECT ${BUDGET_COLUMNS} FROM budgets WHERE id = ?`);
  const nameTaken = db.prepare('SELECT id FROM budgets WHERE name = ?').pluck();
  const insert = db.prepare(
    `INSERT INTO budgets (name, limit_nanousd, window_spec, scope, thresholds_bp, forecast_alert, channel_ids,
                          bucket_ms, counted_from, created_at, updated_at)
     VALUES (@name, @limit, @window, @scope, @thresholds, @forecastAlert, @channels, @bucketMs, NULL, @now, @now)
     RETURNING id`,
  );
  const update = db.prepare(
    `UPDATE budgets SET name = @name, limit_nanousd = @limit, window_spec = @window, scope = @scope,
            thresholds_bp = @thresholds, forecast_alert = @forecastAlert, channel_ids = @channels,
            bucket_ms = @bucketMs, updated_at = @now,
            counted_from = CASE WHEN @reset = 1 THEN NULL ELSE counted_from END
      WHERE id = @id`,
  );
  const deleteSpend = db.prepare('DELETE FROM budget_spend WHERE budget_id = ?');
  const deleteBudget = db.prepare('DELETE FROM budgets WHERE id = ?');
  const setCountedFrom = db.prepare('UPDATE budgets SET counted_from = ? WHERE id = ?');
  const addSpend = db.prepare(
    `INSERT INTO budget_spend (budget_id, bucket_start, cost_nanousd, unpriced_requests, requests)
     VALUES (?, ?, ?, ?, ?) ON CONFLICT (budget_id, bucket_start) DO UPDATE SET
     cost_nanousd = cost_nanousd + excluded.cost_nanousd,
     unpriced_requests = unpriced_requests + excluded.unpriced_requests,
     requests = requests + excluded.requests`,
  );
  const series = db
    .prepare(
      `SELECT bucket_start, cost_nanousd, unpriced_requests, requests FROM budget_spend
        WHERE budget_id = ? AND bucket_start >= ? AND bucket_start < ? ORDER BY bucket_start`,
    )
    .raw(true);
  // Every model with usage has a monthly rollup row at full detail.
  const modelsWithPrefix = db
    .prepare(
      `SELECT DISTINCT model FROM ${ROLLUP_TABLES.month}
        WHERE dim = '' AND detail = 'full' AND substr(model, 1, ?) = ? ORDER BY model`,
    )
    .pluck();
  const tailStatements = new Map<string, Database.Statement>();

  const params = (input: NewBudget, bucketMs: number, nowMs: number) => ({
    name: input.name,
    limit: input.limitNanoUsd,
    window: JSON.stringify(input.window),
    scope: JSON.stringify(input.scope),
    thresholds: JSON.stringify(input.thresholdsBp),
    forecastAlert: input.forecastAlert ? 1 : 0,
    channels: input.channelIds === null ? null : JSON.stringify(input.channelIds),
    bucketMs,
    now: nowMs,
  });

  /** Rows of the scope with ts >= startMs, summed per bucket, straight from usage_log. */
  function tailSums(scope: BudgetScope, bucketMs: number, startMs: number, into: Map<number, Sums>): void {
    const values: Record<string, string | number> = { start: startMs, bucket: bucketMs };
    const conditions = ['u.ts >= @start'];
    if (scope.tokenId !== undefined) {
      conditions.push('u.ingest_token_id = @tokenId');
      values.tokenId = scope.tokenId;
    }
    if (scope.model !== undefined) {
      conditions.push('u.model = @model');
      values.model = scope.model;
    }
    if (scope.modelPrefix !== undefined) {
      conditions.push('substr(u.model, 1, @prefixLength) = @prefix');
      values.prefix = scope.modelPrefix;
      values.prefixLength = [...scope.modelPrefix].length;
    }
    conditions.push(...analyticsFilterSql(scopeFilter(scope), values));
    const sql = `SELECT u.ts - ((u.ts % @bucket) + @bucket) % @bucket AS b, COALESCE(SUM(u.cost_nanousd), 0),
        SUM(u.cost_nanousd IS NULL), COUNT(*) FROM usage_log u WHERE ${conditions.join(' AND ')} GROUP BY b`;
    let statement = tailStatements.get(sql);
    if (!statement) {
      statement = db.prepare(sql).raw(true);
      tailStatements.set(sql, statement);
    }
    for (const [bucket, cost, unpriced, requests] of statement.all(values) as [
      number,
      number,
      number,
      number,
    ][]) {
      add(into, bucket, { cost, unpriced, requests });
    }
  }

  /** The scope's usage in [startMs, endMs) per bucket (endMs null: everything from startMs on). */
  function sumScope(
    scope: BudgetScope,
    bucketMs: number,
    startMs: number,
    endMs: number | null,
    nowMs: number,
  ): Map<number, Sums> {
    const sums = new Map<number, Sums>();
    const aggregateEnd = endMs ?? Math.max(startMs, bucketOf(nowMs, bucketMs) + FUTURE_MARGIN_MS);
    const intervals: TimeInterval[] = [];
    for (let at = startMs; at < aggregateEnd; at += bucketMs)
      intervals.push({ startMs: at, endMs: at + bucketMs });
    const filter = scopeFilter(scope);
    const models =
      scope.modelPrefix === undefined
        ? [undefined]
        : (modelsWithPrefix.all([...scope.modelPrefix].length, scope.modelPrefix) as string[]);
    for (const model of models) {
      if (intervals.length === 0) break;
      const result = aggregates.aggregate({
        filter: model === undefined ? filter : { ...filter, model },
        intervals,
        groupBy: null,
        measures: ['requests', 'costNanoUsd', 'unpricedRequests'],
      });
      const width = TOTALS_FIELDS.length;
      result.cellIntervals.forEach((interval, cell) => {
        const at = cell * width;
        add(sums, intervals[interval]?.startMs ?? 0, {
          requests: result.cellTotals[at] ?? 0,
          cost: result.cellTotals[at + COST_FIELD] ?? 0,
          unpriced: result.cellTotals[at + UNPRICED_FIELD] ?? 0,
        });
      });
    }
    if (endMs === null) tailSums(scope, bucketMs, aggregateEnd, sums);
    return sums;
  }

  return {
    async list() {
      return (list.all() as BudgetRow[]).map(toBudget);
    },

    async get(id) {
      const row = get.get(id) as BudgetRow | undefined;
      return row ? toBudget(row) : undefined;
    },

    create(input, nowMs): Promise<SaveBudgetResult> {
      const bucketMs = bucketMsFor(input, nowMs);
      return writes.enqueue(() => {
        if (nameTaken.get(input.name) !== undefined) return { status: 'name_taken' } as const;
        const { id } = insert.get(params(input, bucketMs, nowMs)) as { id: number };
        ledger.budgetSaved(id, nowMs);
        return { status: 'saved', budget: toBudget(get.get(id) as BudgetRow) } as const;
      });
    },

    update(id, input, nowMs): Promise<SaveBudgetResult> {
      const bucketMs = bucketMsFor(input, nowMs);
      return writes.enqueue(() => {
        const row = get.get(id) as BudgetRow | undefined;
        if (!row) return { status: 'not_found' } as const;
        const owner = nameTaken.get(input.name) as number | undefined;
        if (owner !== undefined && owner !== id) return { status: 'name_taken' } as const;
        const reset = !sameCounting(toBudget(row), { ...input, bucketMs });
        update.run({ ...params(input, bucketMs, nowMs), id, reset: reset ? 1 : 0 });
        if (reset) deleteSpend.run(id);
        ledger.budgetSaved(id, nowMs, { countersDropped: reset });
        return { status: 'saved', budget: toBudget(get.get(id) as BudgetRow) } as const;
      });
    },

    delete(id) {
      return writes.enqueue(() => {
        deleteSpend.run(id);
        const deleted = deleteBudget.run(id).changes === 1;
        ledger.budgetDeleted(id);
        return deleted;
      });
    },

    countHistory(id, targetStartMs, nowMs) {
      return writes.enqueue(() => {
        const row = get.get(id) as BudgetRow | undefined;
        if (!row) return undefined;
        const budget = toBudget(row);
        const target = bucketOf(targetStartMs, budget.bucketMs);
        const upper = budget.countedFromMs;
        if (upper !== null && upper <= target) return upper;
        // Slices start on UTC days, which are bucket starts for any bucket width.
        const sliceStart =
          upper === null
            ? Math.max(target, bucketOf(nowMs, DAY_MS))
            : Math.max(target, bucketOf(upper - 1, DAY_MS));
        const sums = sumScope(budget.scope, budget.bucketMs, sliceStart, upper, nowMs);
        for (const [bucket, s] of sums) {
          if (s.requests !== 0 || s.cost !== 0 || s.unpriced !== 0)
            addSpend.run(id, bucket, s.cost, s.unpriced, s.requests);
        }
        setCountedFrom.run(sliceStart, id);
        ledger.historyCounted(id, nowMs);
        return sliceStart;
      });
    },

    async windowStates(nowMs) {
      const states = [];
      for (const id of ledger.budgetIds()) {
        const state = ledger.windowState(id, nowMs);
        if (!state) continue;
        states.push({
          budgetId: id,
          startMs: state.startMs,
          endMs: state.endMs,
          costNanoUsd: state.cost,
          unpricedRequests: state.unpriced,
          requests: state.requests,
          counted: state.counted,
        });
      }
      return states;
    },

    async spendSeries(id, startMs, endMs): Promise<BudgetSpendBucket[]> {
      return (series.all(id, startMs, endMs) as [number, number, number, number][]).map(
        ([bucketStart, costNanoUsd, unpricedRequests, requests]) => ({
          startMs: bucketStart,
          costNanoUsd,
          unpricedRequests,
          requests,
        }),
      );
    },

    async hourlyCosts(id, startMs, endMs, nowMs) {
      const fromMemory = ledger.hourlyCosts(id, startMs, endMs, nowMs);
      if (fromMemory) return fromMemory;
      const hourly = new Float64Array(Math.max(0, Math.round((endMs - startMs) / HOUR_MS)));
      for (const [bucketStart, cost] of series.all(id, startMs, endMs) as [number, number][]) {
        const index = Math.floor((bucketStart - startMs) / HOUR_MS);
        hourly[index] = (hourly[index] ?? 0) + cost;
      }
      return hourly;
    },

    checkThresholds(nowMs) {
      return writes.enqueue(() => ledger.fireDue(nowMs));
    },
  };
}

const COST_FIELD = TOTALS_FIELDS.indexOf('costNanoUsd');
const UNPRICED_FIELD = TOTALS_FIELDS.indexOf('unpricedRequests');

function add(map: Map<number, Sums>, bucket: number, sums: Sums): void {
  const existing = map.get(bucket);
  if (existing) {
    existing.cost += sums.cost;
    existing.unpriced += sums.unpriced;
    existing.requests += sums.requests;
  } else map.set(bucket, { ...sums });
}
