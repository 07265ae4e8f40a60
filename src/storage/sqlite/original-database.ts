import Database from 'better-sqlite3';

/**
 * Read-only access to a database written by the original (Python/Flask) Cost Guardian, v0.2 or
 * v0.3 (schema: original-behaviour.md section 5). Columns added by its ALTER-based migrations may
 * be missing in older files; they read as NULL. Values come back exactly as SQLite holds them: the
 * original validated little, so a "timestamp" may be NULL or free text and a token count may be text.
 * The encrypted provider keys of its legacy api_keys table are never read.
 */

export type SqliteValue = string | number | bigint | Buffer | null;

export interface OriginalToken {
  id: number;
  label: SqliteValue;
  token: SqliteValue;
  active: SqliteValue;
  createdAt: SqliteValue;
  lastSeenAt: SqliteValue;
}

export interface OriginalApiKey {
  id: number;
  label: SqliteValue;
  provider: SqliteValue;
}

export interface OriginalUsageRow {
  id: number;
  timestamp: SqliteValue;
  model: SqliteValue;
  promptTokens: SqliteValue;
  completionTokens: SqliteValue;
  totalTokens: SqliteValue;
  estimatedCostUsd: SqliteValue;
  apiKeyId: SqliteValue;
  ingestTokenId: SqliteValue;
  source: SqliteValue;
  eventId: SqliteValue;
}

export interface OriginalDatabase {
  tokens(): OriginalToken[];
  apiKeys(): OriginalApiKey[];
  countUsage(): number;
  /** Distinct ingest_token_id values of usage rows (deleted tokens' ids included). */
  referencedTokenIds(): SqliteValue[];
  /** Every usage row in id order, `chunkRows` at a time. */
  usage(chunkRows: number): Generator<OriginalUsageRow[]>;
  close(): void;
}

export class NotAnOriginalDatabaseError extends Error {
  override name = 'NotAnOriginalDatabaseError';
}

const OPTIONAL_USAGE_COLUMNS: Record<string, keyof OriginalUsageRow> = {
  promptTokens: 'promptTokens',
  completionTokens: 'completionTokens',
  totalTokens: 'totalTokens',
  estimatedCostUSD: 'estimatedCostUsd',
  api_key_id: 'apiKeyId',
  ingest_token_id: 'ingestTokenId',
  source: 'source',
  event_id: 'eventId',
};

function columnsOf(db: Database.Database, table: string): Set<string> {
  return new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
}

export function openOriginalDatabase(file: string): OriginalDatabase {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    db.prepare('SELECT COUNT(*) FROM sqlite_master').get();
  } catch (error) {
    throw new NotAnOriginalDatabaseError(
      `${file} is not a readable SQLite database (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const tables = new Set(
    (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map(
      (r) => r.name,
    ),
  );
  const usageColumns = tables.has('usage_log') ? columnsOf(db, 'usage_log') : new Set<string>();
  if (tables.has('schema_migrations') || !usageColumns.has('timestamp') || !usageColumns.has('model')) {
    db.close();
    throw new NotAnOriginalDatabaseError(
      tables.has('schema_migrations')
        ? `${file} is already a database of this version of Cost Guardian, not one of the original`
        : `${file} has no usage_log table of the original Cost Guardian (timestamp, model, ...)`,
    );
  }

  const select = [
    'id',
    'timestamp',
    'model',
    ...Object.entries(OPTIONAL_USAGE_COLUMNS).map(([column, alias]) =>
      usageColumns.has(column) ? `"${column}" AS ${alias}` : `NULL AS ${alias}`,
    ),
  ].join(', ');
  const usagePage = db.prepare(`SELECT ${select} FROM usage_log WHERE id > ? ORDER BY id LIMIT ?`);
  const tokenColumns = tables.has('ingest_tokens') ? columnsOf(db, 'ingest_tokens') : new Set<string>();
  const keyColumns = tables.has('api_keys') ? columnsOf(db, 'api_keys') : new Set<string>();
  const optional = (columns: Set<string>, column: string, alias: string) =>
    columns.has(column) ? `"${column}" AS ${alias}` : `NULL AS ${alias}`;

  return {
    tokens() {
      if (!tables.has('ingest_tokens')) return [];
      return db
        .prepare(
          `SELECT id, label, token, ${optional(tokenColumns, 'active', 'active')}, ${optional(tokenColumns, 'created_at', 'createdAt')},
                  ${optional(tokenColumns, 'last_seen_at', 'lastSeenAt')} FROM ingest_tokens ORDER BY id`,
        )
        .all() as OriginalToken[];
    },
    apiKeys() {
      if (!tables.has('api_keys')) return [];
      return db
        .prepare(
          `SELECT id, ${optional(keyColumns, 'label', 'label')}, ${optional(keyColumns, 'provider', 'provider')} FROM api_keys ORDER BY id`,
        )
        .all() as OriginalApiKey[];
    },
    referencedTokenIds() {
      if (!usageColumns.has('ingest_token_id')) return [];
      return (
        db
          .prepare('SELECT DISTINCT ingest_token_id AS id FROM usage_log WHERE ingest_token_id IS NOT NULL')
          .all() as { id: SqliteValue }[]
      ).map((row) => row.id);
    },
    countUsage() {
      return (db.prepare('SELECT COUNT(*) AS n FROM usage_log').get() as { n: number }).n;
    },
    *usage(chunkRows: number) {
      // Keyset pages rather than one long statement: no read transaction stays open across chunks.
      let after = Number.MIN_SAFE_INTEGER;
      while (true) {
        const rows = usagePage.all(after, chunkRows) as OriginalUsageRow[];
        if (rows.length === 0) return;
        after = rows[rows.length - 1]?.id ?? after;
        yield rows;
      }
    },
    close() {
      db.close();
    },
  };
}
