import type Database from 'better-sqlite3';
import { thresholdAlert, thresholdKeyPrefix } from '../../budgets/alert-events.js';
import { compileScope, type ScopedUsage, type ScopeMatcher } from '../../budgets/scope.js';
import { thresholdAmount, verdictFor, warnAmount } from '../../budgets/verdict.js';
import { bucketOf, HOUR_MS, historyStartMs, type WindowSpan, windowAt } from '../../budgets/window.js';
import type { Budget, BudgetVerdict, BudgetWindowSpec, InsertOutcome, NewUsage } from '../store.js';
import type { OutboxWriter } from './alert-store.js';

/**
 * Keeps every budget's spend counters (budget_spend) equal to its scope's usage, in the same
 * transaction as the usage rows, like RollupWriter keeps the rollups; and answers, on the write
 * path, each record's budget verdicts from memory.
 *
 * In memory, per budget: its compiled scope, its threshold amounts, and the counters of its
 * current window onwards (committed, plus what the open transaction staged). A job stages its
 * changes as its last step (they cannot throw), and they reach the table once per transaction,
 * in flush() (WriteQueue's beforeCommit), together with the threshold alerts they made due (one
 * alert per budget, window and threshold: alert_events' unique dedupe key, and a set in memory).
 * A rolled-back transaction drops the staged changes and reloads everything from the database.
 *
 * Another process (the CLI) may write the same database: at the start of each transaction the
 * ledger compares SQLite's data_version and reloads when another connection committed.
 *
 * A budget counts usage with ts >= its countedFrom; countHistory moves countedFrom back a slice at
 * a time. A budget gives verdicts and fires alerts only once its current window is counted.
 */

interface Sums {
  cost: number;
  unpriced: number;
  requests: number;
}

interface LiveBudget {
  budget: Budget;
  matches: ScopeMatcher;
  /** Spend at which each threshold (budget.thresholdsBp, same order) is reached. */
  amounts: number[];
  warnAt: number | null;
  /** Counters of the buckets at or after loadedFrom (earlier buckets are only in the table). */
  buckets: Map<number, Sums>;
  /** Infinity until loaded. */
  loadedFrom: number;
  window: WindowSpan & Sums;
  /** Thresholds (bp) that fired in the window starting at firedWindowStart. */
  fired: Set<number>;
  firedWindowStart: number;
  /** What the count() call numbered jobMark adds to the current window (scratch, no allocation). */
  jobMark: number;
  jobCost: number;
  jobUnpriced: number;
}

/** A change to one budget's counter, staged by a job and applied when the job is done. */
interface Staged {
  live: LiveBudget;
  bucket: number;
  cost: number;
  unpriced: number;
  requests: number;
}

/** A stored cost that a reprice changed, with what a scope matches on. */
export interface BudgetCostChange {
  row: ScopedUsage & { ts: number };
  before: number | null;
  after: number | null;
  /** Set when the reprice also moved the row from this provider to `row.provider`. */
  fromProvider?: string;
}

const BUDGET_COLUMNS = `id, name, limit_nanousd AS limitNanoUsd, window_spec AS windowSpec, scope,
  thresholds_bp AS thresholdsBp, forecast_alert AS forecastAlert, channel_ids AS channelIds,
  bucket_ms AS bucketMs, counted_from AS countedFromMs, created_at AS createdAt, updated_at AS updatedAt`;

export interface BudgetRow {
  id: number;
  name: string;
  limitNanoUsd: number;
  windowSpec: string;
  scope: string;
  thresholdsBp: string;
  forecastAlert: number;
  channelIds: string | null;
  bucketMs: number;
  countedFromMs: number | null;
  createdAt: number;
  updatedAt: number;
}

export function toBudget(row: BudgetRow): Budget {
  return {
    id: row.id,
    name: row.name,
    limitNanoUsd: row.limitNanoUsd,
    window: JSON.parse(row.windowSpec) as BudgetWindowSpec,
    scope: JSON.parse(row.scope) as Budget['scope'],
    thresholdsBp: JSON.parse(row.thresholdsBp) as number[],
    forecastAlert: row.forecastAlert === 1,
    channelIds: row.channelIds === null ? null : (JSON.parse(row.channelIds) as number[]),
    bucketMs: row.bucketMs,
    countedFromMs: row.countedFromMs,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export { BUDGET_COLUMNS };

const EMPTY_WINDOW = { startMs: 0, endMs: 0, cost: 0, unpriced: 0, requests: 0 };

export class BudgetLedger {
  private live: LiveBudget[] = [];
  private readonly byId = new Map<number, LiveBudget>();
  /** Counter changes of the open transaction, per budget id and bucket, for flush(). */
  private readonly pending = new Map<number, Map<number, Sums>>();
  /** Budgets whose thresholds flush() must look at. */
  private touched = new Set<LiveBudget>();
  /** Inside a transaction that has used the ledger (set at first use, cleared by flush/discard). */
  private active = false;
  private dataVersion = -1;
  /** Numbers each count() call, for the per-budget scratch sums. */
  private jobs = 0;
  /** The latest "now" seen in this transaction, and ever (for alerts of writes that have none). */
  private txNowMs: number | undefined;
  private lastNowMs: number | undefined;

  private readonly statements: {
    budgets: Database.Statement;
    budget: Database.Statement;
    buckets: Database.Statement;
    fired: Database.Statement;
    upsert: Database.Statement;
    clear: Database.Statement;
    dataVersion: Database.Statement;
  };

  constructor(
    db: Database.Database,
    private readonly outbox: OutboxWriter,
  ) {
    this.statements = {
      budgets: db.prepare(`SELECT ${BUDGET_COLUMNS} FROM budgets ORDER BY id`),
      budget: db.prepare(`SELECT ${BUDGET_COLUMNS} FROM budgets WHERE id = ?`),
      buckets: db
        .prepare(
          `SELECT bucket_start, cost_nanousd, unpriced_requests, requests FROM budget_spend
            WHERE budget_id = ? AND bucket_start >= ?`,
        )
        .raw(true),
      fired: db
        .prepare('SELECT dedupe_key FROM alert_events WHERE dedupe_key >= ? AND dedupe_key < ?')
        .pluck(),
      upsert: db.prepare(
        `INSERT INTO budget_spend (budget_id, bucket_start, cost_nanousd, unpriced_requests, requests)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (budget_id, bucket_start) DO UPDATE SET
         cost_nanousd = cost_nanousd + excluded.cost_nanousd,
         unpriced_requests = unpriced_requests + excluded.unpriced_requests,
         requests = requests + excluded.requests`,
      ),
      clear: db.prepare('DELETE FROM budget_spend'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
    };
    this.reloadAll();
  }

  /**
   * Counts the records whose outcome is 'created' and returns each record's verdicts, or
   * undefined where no counted budget's scope matches. Runs as the insert job's last step.
   */
  count(
    records: readonly NewUsage[],
    outcomes: readonly InsertOutcome[],
  ): (BudgetVerdict[] | undefined)[] | undefined {
    this.begin();
    if (this.live.length === 0) return undefined;
    const staged: Staged[] = [];
    // What this job adds to each budget's current window, so each record sees the ones before it.
    const job = ++this.jobs;
    const verdicts: (BudgetVerdict[] | undefined)[] = new Array(records.length);
    for (let i = 0; i < records.length; i += 1) {
      const record = records[i] as NewUsage;
      const nowMs = record.receivedAt;
      this.noteNow(nowMs);
      let list: BudgetVerdict[] | undefined;
      for (const live of this.live) {
        if (!live.matches(record)) continue;
        const countedFrom = live.budget.countedFromMs;
        if (countedFrom === null) continue;
        this.ensureWindow(live, nowMs);
        const window = live.window;
        if (live.jobMark !== job) {
          live.jobMark = job;
          live.jobCost = 0;
          live.jobUnpriced = 0;
        }
        if (outcomes[i]?.status === 'created' && record.ts >= countedFrom) {
          const priced = record.costNanoUsd !== null;
          staged.push({
            live,
            bucket: bucketOf(record.ts, live.budget.bucketMs),
            cost: record.costNanoUsd ?? 0,
            unpriced: priced ? 0 : 1,
            requests: 1,
          });
          if (record.ts >= window.startMs && record.ts < window.endMs) {
            live.jobCost += record.costNanoUsd ?? 0;
            live.jobUnpriced += priced ? 0 : 1;
          }
        }
        if (countedFrom > window.startMs) continue;
        const spent = window.cost + live.jobCost;
        list ??= [];
        list.push({
          budgetId: live.budget.id,
          name: live.budget.name,
          spentNanoUsd: spent,
          limitNanoUsd: live.budget.limitNanoUsd,
          unpricedRequests: window.unpriced + live.jobUnpriced,
          verdict: verdictFor(spent, live.budget.limitNanoUsd, live.warnAt),
          windowEndMs: window.endMs,
        });
      }
      verdicts[i] = list;
    }
    for (const change of staged) this.apply(change);
    return verdicts;
  }

  /** Counts rows known to be new (a bulk load); no verdicts. */
  countRows(records: readonly NewUsage[]): void {
    this.begin();
    if (this.live.length === 0) return;
    const staged: Staged[] = [];
    for (const record of records) {
      for (const live of this.live) {
        const countedFrom = live.budget.countedFromMs;
        if (countedFrom === null || record.ts < countedFrom || !live.matches(record)) continue;
        staged.push({
          live,
          bucket: bucketOf(record.ts, live.budget.bucketMs),
          cost: record.costNanoUsd ?? 0,
          unpriced: record.costNanoUsd === null ? 1 : 0,
          requests: 1,
        });
      }
    }
    for (const change of staged) this.apply(change);
  }

  /** Stored costs changed (a reprice); call as the job's last step. */
  stageCostChanges(changes: readonly BudgetCostChange[]): void {
    this.begin();
    if (this.live.length === 0) return;
    const staged: Staged[] = [];
    const stage = (row: BudgetCostChange['row'], sign: 1 | -1, cost: number | null, requests: number) => {
      for (const live of this.live) {
        const countedFrom = live.budget.countedFromMs;
        if (countedFrom === null || row.ts < countedFrom || !live.matches(row)) continue;
        staged.push({
          live,
          bucket: bucketOf(row.ts, live.budget.bucketMs),
          cost: sign * (cost ?? 0),
          unpriced: sign * (cost === null ? 1 : 0),
          requests: sign * requests,
        });
      }
    };
    for (const { row, before, after, fromProvider } of changes) {
      if (fromProvider !== undefined && fromProvider !== row.provider) {
        // The row leaves the budgets of its old provider and joins those of the new one.
        stage({ ...row, provider: fromProvider }, -1, before, 1);
        stage(row, 1, after, 1);
        continue;
      }
      if (before === after) continue;
      stage(row, -1, before, 0);
      stage(row, 1, after, 0);
    }
    for (const change of staged) this.apply(change);
  }

  /** Every usage row was deleted: every counter goes with them. */
  clearAll(): void {
    this.begin();
    this.statements.clear.run();
    this.pending.clear();
    for (const live of this.live) {
      live.buckets.clear();
      live.window = { ...live.window, cost: 0, unpriced: 0, requests: 0 };
    }
  }

  /**
   * The budget row was inserted or changed in this transaction: take it up again and check its
   * thresholds. `countersDropped`: its counters were deleted (a new scope or window).
   */
  budgetSaved(id: number, nowMs: number, options: { countersDropped?: boolean } = {}): void {
    this.begin();
    this.noteNow(nowMs);
    if (options.countersDropped) this.pending.delete(id);
    const live = this.reloadBudget(id);
    if (live) this.touched.add(live);
  }

  /**
   * countHistory added a slice of the budget's past to its counters in this transaction: once its
   * window is covered, thresholds it is already past fire at this commit.
   */
  historyCounted(id: number, nowMs: number): void {
    this.begin();
    this.noteNow(nowMs);
    const live = this.reloadBudget(id);
    if (live) this.touched.add(live);
  }

  /** The budget and its counters were deleted in this transaction. */
  budgetDeleted(id: number): void {
    this.begin();
    this.pending.delete(id);
    const live = this.byId.get(id);
    if (!live) return;
    this.touched.delete(live);
    this.byId.delete(id);
    this.live = this.live.filter((other) => other !== live);
  }

  private flushCounters(): void {
    for (const [id, buckets] of this.pending) {
      for (const [bucket, sums] of buckets) {
        this.statements.upsert.run(id, bucket, sums.cost, sums.unpriced, sums.requests);
      }
    }
    this.pending.clear();
  }

  /** Records every threshold alert due at nowMs that has not fired yet; returns how many. */
  fireDue(nowMs: number): number {
    this.begin();
    this.noteNow(nowMs);
    let fired = 0;
    for (const live of this.live) fired += this.fireThresholds(live, nowMs);
    return fired;
  }

  /** Before the commit (WriteQueue's beforeCommit): counters, then the alerts they made due. */
  flush(): number {
    if (!this.active) return 0;
    this.flushCounters();
    let fired = 0;
    const nowMs = this.txNowMs ?? this.lastNowMs;
    if (nowMs !== undefined) {
      for (const live of this.touched) fired += this.fireThresholds(live, nowMs);
    }
    this.touched.clear();
    this.active = false;
    this.txNowMs = undefined;
    return fired;
  }

  /**
   * After a rollback: what was staged never happened. The state is reloaded from the database at
   * the next use, not here: this runs in WriteQueue's error path (a full disk, an I/O error), where
   * a read may fail too and must not throw.
   */
  discard(): void {
    this.pending.clear();
    this.touched.clear();
    this.active = false;
    this.txNowMs = undefined;
    this.dataVersion = -1;
  }

  /** The budget's current window at nowMs; for reads outside write transactions. */
  windowState(id: number, nowMs: number): (WindowSpan & Sums & { counted: boolean }) | undefined {
    if (!this.active) this.syncWithDatabase();
    const live = this.byId.get(id);
    if (!live) return undefined;
    const countedFrom = live.budget.countedFromMs;
    if (countedFrom === null) {
      const span = windowAt(live.budget.window, nowMs);
      return { ...span, cost: 0, unpriced: 0, requests: 0, counted: false };
    }
    this.ensureWindow(live, nowMs);
    return { ...live.window, counted: countedFrom <= live.window.startMs };
  }

  /**
   * Priced cost per hour in [startMs, endMs) (hour starts) from memory, for reads outside write
   * transactions; undefined when those counters are not in memory.
   */
  hourlyCosts(id: number, startMs: number, endMs: number, nowMs: number): Float64Array | undefined {
    if (!this.active) this.syncWithDatabase();
    const live = this.byId.get(id);
    if (!live || live.budget.countedFromMs === null) return undefined;
    this.ensureWindow(live, nowMs);
    if (live.loadedFrom > startMs) return undefined;
    const hourly = new Float64Array(Math.max(0, Math.round((endMs - startMs) / HOUR_MS)));
    for (const [bucket, sums] of live.buckets) {
      if (bucket < startMs || bucket >= endMs) continue;
      const index = Math.floor((bucket - startMs) / HOUR_MS);
      hourly[index] = (hourly[index] ?? 0) + sums.cost;
    }
    return hourly;
  }

  budgetIds(): number[] {
    if (!this.active) this.syncWithDatabase();
    return this.live.map((live) => live.budget.id);
  }

  private begin(): void {
    if (this.active) return;
    this.active = true;
    this.syncWithDatabase();
  }

  private noteNow(nowMs: number): void {
    if (this.txNowMs === undefined || nowMs > this.txNowMs) this.txNowMs = nowMs;
    if (this.lastNowMs === undefined || nowMs > this.lastNowMs) this.lastNowMs = nowMs;
  }

  private syncWithDatabase(): void {
    const version = this.statements.dataVersion.get() as number;
    if (version !== this.dataVersion) this.reloadAll();
  }

  private reloadAll(): void {
    this.dataVersion = this.statements.dataVersion.get() as number;
    this.byId.clear();
    this.live = (this.statements.budgets.all() as BudgetRow[]).map((row) => this.track(toBudget(row)));
  }

  private track(budget: Budget): LiveBudget {
    const live: LiveBudget = {
      budget,
      matches: compileScope(budget.scope),
      amounts: budget.thresholdsBp.map((bp) => thresholdAmount(budget.limitNanoUsd, bp)),
      warnAt: warnAmount(budget.limitNanoUsd, budget.thresholdsBp),
      buckets: new Map(),
      loadedFrom: Number.POSITIVE_INFINITY,
      window: { ...EMPTY_WINDOW },
      fired: new Set(),
      firedWindowStart: Number.NaN,
      jobMark: 0,
      jobCost: 0,
      jobUnpriced: 0,
    };
    this.byId.set(budget.id, live);
    return live;
  }

  private reloadBudget(id: number): LiveBudget | undefined {
    const row = this.statements.budget.get(id) as BudgetRow | undefined;
    const old = this.byId.get(id);
    if (!row) {
      if (old) this.budgetDeleted(id);
      return undefined;
    }
    const live = this.track(toBudget(row));
    if (old) {
      this.touched.delete(old);
      this.live = this.live.map((other) => (other === old ? live : other));
    } else {
      this.live.push(live);
      this.live.sort((a, b) => a.budget.id - b.budget.id);
    }
    return live;
  }

  /**
   * Makes live.window the window at nowMs, with the counters from its start, and from four weeks
   * back at least (the forecast's history) in memory, loading them from the table when it must.
   */
  private ensureWindow(live: LiveBudget, nowMs: number): void {
    const current = live.window;
    if (nowMs >= current.startMs && nowMs < current.endMs && live.loadedFrom <= current.startMs) return;
    const span = windowAt(live.budget.window, nowMs);
    const keepFrom = Math.min(
      span.startMs,
      bucketOf(historyStartMs(live.budget.window, nowMs), live.budget.bucketMs),
    );
    if (keepFrom < live.loadedFrom) {
      // First use, or time went back: the table, plus what this transaction staged.
      live.buckets.clear();
      const rows = this.statements.buckets.all(live.budget.id, keepFrom) as [
        number,
        number,
        number,
        number,
      ][];
      for (const [bucket, cost, unpriced, requests] of rows) {
        live.buckets.set(bucket, { cost, unpriced, requests });
      }
      for (const [bucket, sums] of this.pending.get(live.budget.id) ?? []) {
        if (bucket >= keepFrom) addTo(live.buckets, bucket, sums);
      }
    } else {
      for (const bucket of live.buckets.keys()) if (bucket < keepFrom) live.buckets.delete(bucket);
    }
    live.loadedFrom = keepFrom;
    const window = { ...span, cost: 0, unpriced: 0, requests: 0 };
    for (const [bucket, sums] of live.buckets) {
      if (bucket >= span.startMs && bucket < span.endMs) {
        window.cost += sums.cost;
        window.unpriced += sums.unpriced;
        window.requests += sums.requests;
      }
    }
    live.window = window;
  }

  private apply(change: Staged): void {
    const { live, bucket } = change;
    let buckets = this.pending.get(live.budget.id);
    if (!buckets) {
      buckets = new Map();
      this.pending.set(live.budget.id, buckets);
    }
    addTo(buckets, bucket, change);
    if (bucket >= live.loadedFrom) addTo(live.buckets, bucket, change);
    const window = live.window;
    if (bucket >= window.startMs && bucket < window.endMs && live.loadedFrom <= window.startMs) {
      window.cost += change.cost;
      window.unpriced += change.unpriced;
      window.requests += change.requests;
    }
    this.touched.add(live);
  }

  private fireThresholds(live: LiveBudget, nowMs: number): number {
    const countedFrom = live.budget.countedFromMs;
    if (countedFrom === null) return 0;
    this.ensureWindow(live, nowMs);
    const window = live.window;
    if (countedFrom > window.startMs) return 0;
    if (live.firedWindowStart !== window.startMs) {
      const prefix = thresholdKeyPrefix(live.budget.id, window.startMs);
      const keys = this.statements.fired.all(prefix, `${prefix.slice(0, -1)};`) as string[];
      live.fired = new Set(keys.map((key) => Number(key.slice(prefix.length))));
      live.firedWindowStart = window.startMs;
    }
    let fired = 0;
    live.budget.thresholdsBp.forEach((bp, index) => {
      if (live.fired.has(bp) || window.cost < (live.amounts[index] ?? Number.POSITIVE_INFINITY)) return;
      const event = thresholdAlert(
        live.budget,
        window,
        bp,
        { costNanoUsd: window.cost, unpricedRequests: window.unpriced },
        nowMs,
      );
      if (this.outbox.record(event, live.budget.channelIds)) fired += 1;
      live.fired.add(bp);
    });
    return fired;
  }
}

function addTo(map: Map<number, Sums>, bucket: number, change: Sums): void {
  const sums = map.get(bucket);
  if (sums) {
    sums.cost += change.cost;
    sums.unpriced += change.unpriced;
    sums.requests += change.requests;
  } else {
    map.set(bucket, { cost: change.cost, unpriced: change.unpriced, requests: change.requests });
  }
}
