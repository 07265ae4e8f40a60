import type Database from 'better-sqlite3';
import type {
  CreateTokenResult,
  InsertOutcome,
  NewUsage,
  Store,
  StoreStats,
  TokenRecord,
  TokenSummary,
  UsageChange,
  UsageCursor,
  UsageFilter,
  UsagePage,
  UsageRow,
} from '../store.js';
import { migrate } from './migrate.js';
import { openDatabase } from './open-database.js';
import { TOKEN_COLUMNS, toTokenRecord } from './queries.js';
import { ReadClient } from './read-client.js';
import { createSessionMethods } from './sessions.js';
import { WriteQueue } from './write-queue.js';

export interface SqliteStoreOptions {
  /** Called after each group commit with its record count and duration; for metrics. */
  onCommit?: (records: number, durationMs: number) => void;
  /** Most records per group-commit transaction. */
  maxBatchRecords?: number;
}

export interface SqliteStore extends Store {
  readonly db: Database.Database;
  /** Writes waiting for the next group commit. */
  readonly queuedWrites: number;
}

const INSERT_USAGE = `
  INSERT INTO usage_log (
    ts, received_at, source, ingest_token_id, event_id, provider, model,
    prompt_tokens, completion_tokens, total_tokens, cached_tokens, cache_write_tokens,
    reasoning_tokens, input_audio_tokens, output_audio_tokens, service_tier, batch, completion_window,
    cost_nanousd, pricing_status, pricing_source, pricing_rates, client_cost_nanousd, meta, raw_usage
  ) VALUES (
    @ts, @receivedAt, @source, @ingestTokenId, @eventId, @provider, @model,
    @promptTokens, @completionTokens, @totalTokens, @cachedTokens, @cacheWriteTokens,
    @reasoningTokens, @inputAudioTokens, @outputAudioTokens, @serviceTier, @batch, @completionWindow,
    @costNanoUsd, @pricingStatus, @pricingSource, @pricingRates, @clientCostNanoUsd, @meta, @rawUsage
  )
  ON CONFLICT (ingest_token_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
  RETURNING id`;

/**
 * The SQLite backend: one writer connection on the main thread (writes are group-committed by
 * WriteQueue) and one read worker thread with its own read-only connection for everything that
 * can scan many rows.
 */
export function createSqliteStore(dbPath: string, options: SqliteStoreOptions = {}): SqliteStore {
  const db = openDatabase(dbPath);
  migrate(db);
  const writes = new WriteQueue(db, options.maxBatchRecords ?? 500, options.onCommit);
  const reads = new ReadClient(dbPath);

  const insertUsage = db.prepare(INSERT_USAGE);
  const findEvent = db.prepare('SELECT id FROM usage_log WHERE ingest_token_id = ? AND event_id = ?');
  const touchToken = db.prepare(
    'UPDATE ingest_tokens SET last_seen_at = MAX(COALESCE(last_seen_at, 0), @seenAt) WHERE id = @id',
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
  const deleteUsage = db.prepare('DELETE FROM usage_log');
  const ping = db.prepare('SELECT 1 AS ok');

  let closed = false;
  const usageListeners = new Set<(change: UsageChange) => void>();
  const notify = (change: UsageChange) => {
    for (const listener of usageListeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure must not turn a committed write into an error.
      }
    }
  };

  return {
    db,
    get queuedWrites() {
      return writes.size;
    },

    async ping() {
      ping.get();
      await reads.ping();
    },

    async close() {
      if (closed) return;
      closed = true;
      await writes.drainAndClose();
      await reads.close();
      db.close();
    },

    createToken({ label, token, createdAt }): Promise<CreateTokenResult> {
      return writes.enqueue(() => {
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
      const row = findToken.get(token) as Parameters<typeof toTokenRecord>[0] | undefined;
      return row ? toTokenRecord(row) : undefined;
    },

    setTokenActive(id: number, active: boolean): Promise<TokenRecord | undefined> {
      return writes.enqueue(() => {
        const row = setActive.get(active ? 1 : 0, id) as Parameters<typeof toTokenRecord>[0] | undefined;
        return row ? toTokenRecord(row) : undefined;
      });
    },

    deleteToken(id: number, deletedAt: number): Promise<boolean> {
      return writes.enqueue(() => softDelete.run(deletedAt, id).changes === 1);
    },

    insertUsage(records: readonly NewUsage[]): Promise<InsertOutcome[]> {
      return writes
        .enqueue(() => {
          const outcomes: InsertOutcome[] = [];
          const seen = new Map<number, number>();
          for (const record of records) {
            const inserted = insertUsage.get({ ...record, batch: record.batch ? 1 : 0 }) as
              | { id: number }
              | undefined;
            if (inserted) {
              outcomes.push({ status: 'created', id: inserted.id });
            } else {
              const existing = findEvent.get(record.ingestTokenId, record.eventId) as { id: number };
              outcomes.push({ status: 'duplicate', id: existing.id });
            }
            if (record.ingestTokenId !== null) {
              seen.set(
                record.ingestTokenId,
                Math.max(seen.get(record.ingestTokenId) ?? 0, record.receivedAt),
              );
            }
          }
          for (const [id, seenAt] of seen) touchToken.run({ id, seenAt });
          return outcomes;
        }, records.length)
        .then((outcomes) => {
          const created = outcomes.filter((o) => o.status === 'created').length;
          if (created > 0) notify({ kind: 'insert', rows: created });
          return outcomes;
        });
    },

    resetUsage(): Promise<number> {
      return writes
        .enqueue(() => deleteUsage.run().changes)
        .then((rows) => {
          notify({ kind: 'reset', rows });
          return rows;
        });
    },

    listUsage(filter: UsageFilter, page: { limit: number; after?: UsageCursor }): Promise<UsagePage> {
      return reads.listUsage(filter, page.limit, page.after);
    },

    exportUsage(filter: UsageFilter): AsyncIterable<UsageRow[]> {
      return reads.exportUsage(filter);
    },

    listModels(): Promise<string[]> {
      return reads.listModels();
    },

    stats(nowMs: number): Promise<StoreStats> {
      return reads.stats(nowMs);
    },

    ...createSessionMethods(db, writes),

    onUsageChange(listener) {
      usageListeners.add(listener);
      return () => usageListeners.delete(listener);
    },
  };
}
