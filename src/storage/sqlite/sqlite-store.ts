import { statfs } from 'node:fs/promises';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { counterBucketMs } from '../../budgets/window.js';
import type { ExportFormat } from '../../lib/usage-export.js';
import type {
  CreateTokenResult,
  InsertOutcome,
  ModelUsage,
  NewUsage,
  Store,
  StoreStats,
  TagKeyUsage,
  TokenRecord,
  TokenSummary,
  UsageCursor,
  UsageFilter,
  UsagePage,
  WriteHealth,
  WriteState,
} from '../store.js';
import type { UsageAggregateQuery, UsageAggregateResult } from '../usage-aggregate.js';
import { withUsageNotifications } from '../usage-notifications.js';
import { scansUsageRows } from './aggregate-queries.js';
import { createAlertStore, OutboxWriter } from './alert-store.js';
import { BudgetLedger } from './budget-ledger.js';
import { createBudgetStore } from './budget-store.js';
import { createBulkLoader } from './bulk-load.js';
import { migrate } from './migrate.js';
import { openDatabase } from './open-database.js';
import { createPricingMethods } from './pricing-store.js';
import { createProviderReportMethods } from './provider-reports.js';
import { TOKEN_COLUMNS, toTokenRecord } from './queries.js';
import { RateSetIds } from './rate-sets.js';
import { ReadClient } from './read-client.js';
import { RollupWriter } from './rollup-writer.js';
import { createSessionMethods } from './sessions.js';
import { fillUsageValues, USAGE_COLUMNS } from './usage-columns.js';
import { createWalSync } from './wal-sync.js';
import { WriteQueue } from './write-queue.js';

export interface SqliteStoreOptions {
  /** Called after each group commit with its record count and duration; for metrics. */
  onCommit?: (records: number, durationMs: number) => void;
  /** Called after each WAL sync (which makes the commits before it durable) with its duration. */
  onSync?: (durationMs: number) => void;
  /** Most records per group-commit transaction. */
  maxBatchRecords?: number;
  /** Called when the read worker answers, with the operation and the time since it was asked; for metrics. */
  onRead?: (operation: string, durationMs: number) => void;
  /**
   * How long an analytics question that the rollups cannot answer may scan usage rows before it is
   * stopped (QueryTimeoutError). Default 30 s.
   */
  scanTimeoutMs?: number;
  /**
   * How long a write waits, off the event loop, for the write lock held by another connection or
   * process before it fails with StoreLockedError. Default 2000.
   */
  lockWaitMs?: number;
  /** The disk as the store sees it; tests pass a fake to simulate a full disk without filling one. */
  disk?: Partial<DiskAccess>;
}

/** What the store asks of the disk beyond SQLite's own I/O. */
export interface DiskAccess {
  /** Free bytes (for unprivileged users) on the file system holding `directory`. */
  freeBytes(directory: string): Promise<number>;
  /**
   * Runs inside every write transaction just before COMMIT. The real one does nothing; a test's
   * throws SQLITE_FULL to stand for a disk that cannot take the transaction.
   */
  beforeCommit(): void;
}

export const realDisk: DiskAccess = {
  async freeBytes(directory) {
    const stats = await statfs(directory);
    return stats.bavail * stats.bsize;
  },
  beforeCommit() {},
};

/**
 * A 'full' state (a write failed for lack of space) ends when a write commits, or when the free
 * space has grown by this much since the failure (someone cleaned up), so that /health recovers
 * even when no write is tried.
 */
const FULL_RECOVERY_BYTES = 1_048_576;

export interface SqliteStore extends Store {
  readonly db: Database.Database;
  /** Writes waiting for the next group commit. */
  readonly queuedWrites: number;
  /**
   * Writes rows known to be new (an import, benchmark data) in one group commit, faster than
   * insertUsage; rollups are kept exact. Rejects, writing nothing, if any (token, event_id) is
   * already stored. Resolves to the number of rows written.
   */
  loadUsage(records: readonly NewUsage[]): Promise<number>;
}

const INSERT_USAGE = `
  INSERT INTO usage_log (${USAGE_COLUMNS.join(', ')}) VALUES (${USAGE_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (ingest_token_id, event_id) WHERE event_id IS NOT NULL DO NOTHING`;

/**
 * The SQLite backend: one writer connection on the main thread (writes are group-committed by
 * WriteQueue) and one read worker thread with its own read-only connection for everything that
 * can scan many rows.
 */
/**
 * Token lookups happen on every ingest; answering them from memory saves a SQLite read per record.
 * Entries live at most TOKEN_CACHE_MS, so a change made by another process (the CLI) is seen within
 * that time; changes made through this store clear the cache at once.
 */
const TOKEN_CACHE_MS = 1000;
const TOKEN_CACHE_MAX = 10_000;
const DEFAULT_SCAN_TIMEOUT_MS = 30_000;

export function createSqliteStore(dbPath: string, options: SqliteStoreOptions = {}): SqliteStore {
  // COMMIT does not wait for the disk here: WriteQueue answers a write once walSync has made it
  // durable, off the event loop (wal-sync.ts).
  const db = openDatabase(dbPath, { synchronous: 'normal' });
  migrate(db);
  const disk: DiskAccess = { ...realDisk, ...options.disk };
  const directory = path.dirname(dbPath);
  const stateListeners = new Set<(state: WriteState) => void>();
  /** Free bytes measured after the write that found the disk full. */
  let freeWhenFull: number | undefined;
  const walSync = createWalSync(db, dbPath);
  const rollups = new RollupWriter(db);
  const rateSets = new RateSetIds(db);
  const outbox = new OutboxWriter(db);
  // Budget counters move with the usage rows, in the same transactions (budget-ledger.ts).
  const budgetLedger = new BudgetLedger(db, outbox);
  // Last-seen times of the tokens written in the current transaction, applied once at its end,
  // with the rollup rows of every job of the transaction.
  let touched = new Map<number, number>();
  const writes = new WriteQueue(db, {
    maxWeight: options.maxBatchRecords ?? 500,
    onBatch: options.onCommit,
    beforeCommit: () => {
      const pending = touched;
      touched = new Map();
      for (const [id, seenAt] of pending) touchToken.run(seenAt, id);
      rollups.flush();
      budgetLedger.flush();
      disk.beforeCommit();
    },
    onRollback: () => {
      touched = new Map();
      rollups.discardStaged();
      budgetLedger.discard();
      rateSets.clear();
    },
    sync: walSync.sync,
    onSync: options.onSync,
    lockWaitMs: options.lockWaitMs,
    onStateChange: (state) => {
      freeWhenFull = undefined;
      if (state === 'full') {
        disk.freeBytes(directory).then(
          (free) => {
            if (writes.state === 'full') freeWhenFull = free;
          },
          () => {},
        );
      }
      for (const listener of stateListeners) {
        try {
          listener(state);
        } catch {
          // A listener's failure must not break the write path.
        }
      }
    },
  });

  const reads = new ReadClient(dbPath, { onRead: options.onRead });
  // Analytics questions the rollups cannot answer scan usage rows for seconds at millions of rows:
  // they run on a worker of their own, so the reads behind them (the dashboard, /data, tokens) do
  // not wait, and they are stopped after scanTimeoutMs.
  const scans = new ReadClient(dbPath, {
    onRead: options.onRead,
    timeoutMs: options.scanTimeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS,
  });
  const tokenCache = new Map<string, { record: TokenRecord | undefined; expiresAt: number }>();

  const insertUsage = db.prepare(INSERT_USAGE);
  const insertValues = new Array<unknown>(USAGE_COLUMNS.length);
  const findEvent = db.prepare('SELECT id FROM usage_log WHERE ingest_token_id = ? AND event_id = ?');
  const touchToken = db.prepare(
    'UPDATE ingest_tokens SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?) WHERE id = ?',
  );
  const insertToken = db.prepare(
    'INSERT INTO ingest_tokens (label, token, active, created_at) VALUES (?, ?, 1, ?) RETURNING ' +
      TOKEN_COLUMNS,
  );
  const labelTaken = db.prepare('SELECT 1 FROM ingest_tokens WHERE label = ? AND deleted_at IS NULL');
  const tokenTaken = db.prepare('SELECT 1 FROM ingest_tokens WHERE token = ?');
  const findToken = db.prepare(
    `SELECT ${TOKEN_COLUMNS} FROM ingest_tokens WHERE token = ? AND deleted_at IS NULL`,
  );
  const setActive = db.prepare(
    `UPDATE ingest_tokens SET active = ? WHERE id = ? AND deleted_at IS NULL RETURNING ${TOKEN_COLUMNS}`,
  );
  const softDelete = db.prepare(
    'UPDATE ingest_tokens SET deleted_at = ?, active = 0 WHERE id = ? AND deleted_at IS NULL',
  );
  const bulkLoad = createBulkLoader(db, rateSets);
  const deleteUsage = db.prepare('DELETE FROM usage_log');
  const ping = db.prepare('SELECT 1 AS ok');

  let closed = false;

  return withUsageNotifications<Omit<SqliteStore, 'onUsageChange'>>({
    db,
    get queuedWrites() {
      return writes.size;
    },

    async ping() {
      if (writes.failure) throw writes.failure;
      ping.get();
      await reads.ping();
    },

    async writeHealth(): Promise<WriteHealth> {
      let freeBytes: number | undefined;
      try {
        freeBytes = await disk.freeBytes(directory);
      } catch {
        freeBytes = undefined;
      }
      if (closed) return { state: writes.state };
      if (
        writes.state === 'full' &&
        freeBytes !== undefined &&
        freeWhenFull !== undefined &&
        freeBytes >= freeWhenFull + FULL_RECOVERY_BYTES
      ) {
        writes.clearFull();
      }
      if (writes.state !== 'failed') {
        try {
          writes.probeLock();
        } catch {
          // The connection cannot even begin a transaction; ping() reports that.
        }
      }
      return freeBytes === undefined ? { state: writes.state } : { state: writes.state, freeBytes };
    },

    onWriteStateChange(listener: (state: WriteState) => void) {
      stateListeners.add(listener);
      return () => {
        stateListeners.delete(listener);
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      await writes.drainAndClose();
      await reads.close();
      await scans.close();
      walSync.close();
      db.close();
    },

    createToken({ label, token, createdAt }): Promise<CreateTokenResult> {
      return writes.enqueue(() => {
        tokenCache.clear();
        if (labelTaken.get(label)) return { status: 'label_taken' } as const;
        if (tokenTaken.get(token)) return { status: 'token_taken' } as const;
        const row = insertToken.get(label, token, createdAt) as Parameters<typeof toTokenRecord>[0];
        return { status: 'created', token: toTokenRecord(row) } as const;
      });
    },

    listTokens(): Promise<TokenSummary[]> {
      return reads.listTokens();
    },

    async findTokenByValue(token: string): Promise<TokenRecord | undefined> {
      const now = performance.now();
      const cached = tokenCache.get(token);
      if (cached && cached.expiresAt > now) return cached.record;
      const row = findToken.get(token) as Parameters<typeof toTokenRecord>[0] | undefined;
      const record = row ? toTokenRecord(row) : undefined;
      if (tokenCache.size >= TOKEN_CACHE_MAX) tokenCache.clear();
      tokenCache.set(token, { record, expiresAt: now + TOKEN_CACHE_MS });
      return record;
    },

    setTokenActive(id: number, active: boolean): Promise<TokenRecord | undefined> {
      return writes.enqueue(() => {
        tokenCache.clear();
        const row = setActive.get(active ? 1 : 0, id) as Parameters<typeof toTokenRecord>[0] | undefined;
        return row ? toTokenRecord(row) : undefined;
      });
    },

    deleteToken(id: number, deletedAt: number): Promise<boolean> {
      return writes.enqueue(() => {
        tokenCache.clear();
        return softDelete.run(deletedAt, id).changes === 1;
      });
    },

    insertUsage(records: readonly NewUsage[]): Promise<InsertOutcome[]> {
      return writes.enqueue(() => {
        const outcomes: InsertOutcome[] = [];
        const created: NewUsage[] = [];
        const seen = new Map<number, number>();
        for (const record of records) {
          // run() and lastInsertRowid rather than RETURNING: cheaper, and a conflict shows as 0 changes.
          fillUsageValues(insertValues, 0, record, rateSets.idFor(record.pricingRates));
          const inserted = insertUsage.run(insertValues);
          if (inserted.changes === 1) {
            outcomes.push({ status: 'created', id: Number(inserted.lastInsertRowid) });
            created.push(record);
          } else {
            const existing = findEvent.get(record.ingestTokenId, record.eventId) as { id: number };
            outcomes.push({ status: 'duplicate', id: existing.id });
          }
          if (record.ingestTokenId !== null) {
            seen.set(record.ingestTokenId, Math.max(seen.get(record.ingestTokenId) ?? 0, record.receivedAt));
          }
        }
        // Reached only when every row of the job was written: a job rolled back touches nothing.
        for (const [id, at] of seen) touched.set(id, Math.max(touched.get(id) ?? 0, at));
        const verdicts = budgetLedger.count(records, outcomes);
        if (verdicts) {
          verdicts.forEach((list, i) => {
            const outcome = outcomes[i];
            if (list && outcome) outcome.budgets = list;
          });
        }
        rollups.stageRows(created);
        return outcomes;
      }, records.length);
    },

    resetUsage(): Promise<number> {
      return writes.enqueue(() => {
        const deleted = deleteUsage.run().changes;
        rollups.clearAll();
        budgetLedger.clearAll();
        return deleted;
      });
    },

    loadUsage(records: readonly NewUsage[]): Promise<number> {
      return writes.enqueue(() => {
        bulkLoad(records);
        budgetLedger.countRows(records);
        rollups.stageRows(records);
        return records.length;
      }, records.length);
    },

    listUsage(filter: UsageFilter, page: { limit: number; after?: UsageCursor }): Promise<UsagePage> {
      return reads.listUsage(filter, page.limit, page.after);
    },

    exportUsage(filter: UsageFilter, format: ExportFormat): AsyncIterable<string> {
      return reads.exportUsage(filter, format);
    },

    listModels(): Promise<string[]> {
      return reads.listModels();
    },

    stats(nowMs: number): Promise<StoreStats> {
      return reads.stats(nowMs);
    },

    aggregateUsage(query: UsageAggregateQuery): Promise<UsageAggregateResult> {
      return scansUsageRows(query) ? scans.aggregateUsage(query) : reads.aggregateUsage(query);
    },

    listModelUsage(): Promise<ModelUsage[]> {
      return reads.listModelUsage();
    },

    listTagValues(valuesPerKey: number): Promise<TagKeyUsage[]> {
      return reads.listTagValues(valuesPerKey);
    },

    ...createPricingMethods(db, writes, rollups, rateSets, budgetLedger),

    budgets: createBudgetStore(db, writes, budgetLedger, (input, nowMs) =>
      counterBucketMs(input.window, nowMs),
    ),
    alerts: createAlertStore(db, writes, outbox),

    ...createSessionMethods(db, writes),

    reports: createProviderReportMethods(db, writes),
  });
}
