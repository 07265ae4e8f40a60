import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { NewUsage } from '../store.js';
import { migrate } from './migrate.js';
import { openDatabase } from './open-database.js';
import { RollupDelta, RollupWriter } from './rollup-writer.js';

/** A tracking token written with the id it had in the original database. */
export interface ImportedToken {
  id: number;
  label: string;
  token: string;
  active: boolean;
  createdAt: number;
  lastSeenAt: number | null;
  deletedAt: number | null;
}

export interface ExistingToken {
  id: number;
  label: string;
  token: string;
  deletedAt: number | null;
}

/** A usage row of the original, converted; `originalId` makes writing it again a no-op. */
export interface ImportedUsage extends NewUsage {
  originalId: number;
}

export interface UsageWriteResult {
  /** Original ids written now. */
  created: number[];
  /** Original ids a previous import already wrote. */
  alreadyImported: number[];
  /** Rows whose (tracking token, event_id) is already taken by another row of this database. */
  conflicts: { originalId: number; existingId: number }[];
}

/**
 * Writes an import from the original Cost Guardian into this service's database, on its own
 * connection. The service may keep running: each call is one short transaction, so ingest waits at
 * most for one chunk. Idempotent: a row whose original id is already present is not written again.
 */
export interface ImportTarget {
  tokens(): ExistingToken[];
  /** Which of these original usage ids are already in the database. */
  importedOriginalIds(originalIds: readonly number[]): Set<number>;
  /** All or nothing. */
  insertTokens(tokens: readonly ImportedToken[]): void;
  insertUsage(rows: readonly ImportedUsage[]): UsageWriteResult;
  close(): void;
}

const INSERT_USAGE = `
  INSERT INTO usage_log (
    ts, received_at, source, ingest_token_id, event_id, provider, model,
    prompt_tokens, completion_tokens, total_tokens, cached_tokens, cache_write_tokens,
    reasoning_tokens, input_audio_tokens, output_audio_tokens, service_tier, batch, completion_window,
    cost_nanousd, pricing_status, pricing_source, pricing_rates, client_cost_nanousd, meta, raw_usage,
    original_id
  ) VALUES (
    @ts, @receivedAt, @source, @ingestTokenId, @eventId, @provider, @model,
    @promptTokens, @completionTokens, @totalTokens, @cachedTokens, @cacheWriteTokens,
    @reasoningTokens, @inputAudioTokens, @outputAudioTokens, @serviceTier, @batch, @completionWindow,
    @costNanoUsd, @pricingStatus, @pricingSource, @pricingRates, @clientCostNanoUsd, @meta, @rawUsage,
    @originalId
  )
  ON CONFLICT DO NOTHING
  RETURNING id`;

function createTarget(db: Database.Database, readonly: boolean): ImportTarget {
  const listTokens = db.prepare(
    'SELECT id, label, token, deleted_at AS deletedAt FROM ingest_tokens ORDER BY id',
  );
  // A read-only target may predate migration 005: then nothing was imported into it yet.
  const hasOriginalIds = (db.prepare('PRAGMA table_info(usage_log)').all() as { name: string }[]).some(
    (column) => column.name === 'original_id',
  );
  const findOriginal = db.prepare(
    hasOriginalIds
      ? 'SELECT id FROM usage_log WHERE original_id = ?'
      : 'SELECT NULL AS id WHERE 0 AND ? IS NULL',
  );
  const findEvent = db.prepare('SELECT id FROM usage_log WHERE ingest_token_id IS ? AND event_id = ?');
  let rollups: RollupWriter | undefined;

  return {
    tokens: () => listTokens.all() as ExistingToken[],

    importedOriginalIds(originalIds) {
      const found = new Set<number>();
      for (const id of originalIds) if (findOriginal.get(id)) found.add(id);
      return found;
    },

    insertTokens(tokens) {
      if (readonly) throw new Error('the import target was opened read-only');
      const insert = db.prepare(
        `INSERT INTO ingest_tokens (id, label, token, active, created_at, last_seen_at, deleted_at)
         VALUES (@id, @label, @token, @active, @createdAt, @lastSeenAt, @deletedAt)`,
      );
      db.transaction(() => {
        for (const token of tokens) insert.run({ ...token, active: token.active ? 1 : 0 });
      })();
    },

    insertUsage(rows) {
      if (readonly) throw new Error('the import target was opened read-only');
      const insert = db.prepare(INSERT_USAGE);
      rollups ??= new RollupWriter(db);
      const writer = rollups;
      const result: UsageWriteResult = { created: [], alreadyImported: [], conflicts: [] };
      db.transaction(() => {
        // The rollups move with the rows, in the same transaction (rollup-writer.ts).
        const delta = new RollupDelta();
        for (const row of rows) {
          if (insert.get({ ...row, batch: row.batch ? 1 : 0 })) {
            result.created.push(row.originalId);
            delta.addRow(row);
          } else if (findOriginal.get(row.originalId)) {
            result.alreadyImported.push(row.originalId);
          } else {
            const existing = findEvent.get(row.ingestTokenId, row.eventId) as { id: number } | undefined;
            result.conflicts.push({ originalId: row.originalId, existingId: existing?.id ?? 0 });
          }
        }
        writer.stage(delta);
        writer.flush();
      })();
      return result;
    },

    close: () => db.close(),
  };
}

/** Opens (creating and migrating if needed) the database an import writes to. */
export function openImportTarget(dbPath: string): ImportTarget {
  const db = openDatabase(dbPath);
  migrate(db);
  return createTarget(db, false);
}

/**
 * For a dry run: the existing database read-only, or undefined when there is none yet (a dry run
 * never creates one).
 */
export function openImportTargetReadOnly(dbPath: string): ImportTarget | undefined {
  if (!existsSync(dbPath)) return undefined;
  return createTarget(openDatabase(dbPath, { readonly: true }), true);
}
