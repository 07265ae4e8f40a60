import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { migrate } from './migrate.js';
import { openDatabase } from './open-database.js';

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

/**
 * What `import-original` needs from this service's database beyond the Store: tracking tokens
 * written with explicit ids, and which original rows are already here. Usage rows themselves go
 * through Store.insertUsage, like every other write (so whatever the store maintains beside
 * usage_log stays right). Its own connection; each call is one short transaction, so a running
 * service waits at most for one of them.
 */
export interface ImportTarget {
  tokens(): ExistingToken[];
  /** Which of these original usage ids are already in the database. */
  importedOriginalIds(originalIds: readonly number[]): Set<number>;
  /** The original id of a usage row of ours (null for rows that were not imported). */
  originalIdOf(usageId: number): number | null;
  /** All or nothing. */
  insertTokens(tokens: readonly ImportedToken[]): void;
  close(): void;
}

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
  const originalOf = db.prepare(
    hasOriginalIds
      ? 'SELECT original_id AS originalId FROM usage_log WHERE id = ?'
      : 'SELECT NULL AS originalId WHERE ? IS NULL',
  );

  return {
    tokens: () => listTokens.all() as ExistingToken[],

    importedOriginalIds(originalIds) {
      const found = new Set<number>();
      for (const id of originalIds) if (findOriginal.get(id)) found.add(id);
      return found;
    },

    originalIdOf(usageId) {
      return (originalOf.get(usageId) as { originalId: number | null } | undefined)?.originalId ?? null;
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
