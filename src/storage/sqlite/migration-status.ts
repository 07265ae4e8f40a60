import type Database from 'better-sqlite3';
import { loadMigrations, type Migration } from './migrate.js';

export interface MigrationStatus {
  applied: { version: number; name: string; appliedAt: number }[];
  pending: Migration[];
}

/** Which migrations a database has and which this build would apply; reads only. */
export function migrationStatus(
  db: Database.Database,
  migrations: Migration[] = loadMigrations(),
): MigrationStatus {
  const hasTable = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`)
    .get();
  const applied = hasTable
    ? (db
        .prepare('SELECT version, name, applied_at AS appliedAt FROM schema_migrations ORDER BY version')
        .all() as MigrationStatus['applied'])
    : [];
  const done = new Set(applied.map((row) => row.version));
  return { applied, pending: migrations.filter((m) => !done.has(m.version)) };
}

/** True for a database written by the original (Python/Flask) Cost Guardian: usage_log, no migrations table. */
export function isOriginalDatabase(db: Database.Database): boolean {
  const tables = new Set(
    (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map(
      (r) => r.name,
    ),
  );
  return tables.has('usage_log') && !tables.has('schema_migrations');
}
