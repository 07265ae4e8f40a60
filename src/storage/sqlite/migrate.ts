import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const FILE_PATTERN = /^(\d{3})_([a-z0-9_]+)\.sql$/;
const WRITABLE_SCHEMA = /PRAGMA\s+writable_schema\s*=\s*ON/i;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = FILE_PATTERN.exec(file);
      if (!match) throw new Error(`migration file name must look like 001_name.sql: ${file}`);
      return { version: Number(match[1]), name: match[2] ?? '', sql: readFileSync(`${dir}/${file}`, 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
  // Numbers are unique and ascending. Gaps are allowed: parallel branches reserve their numbers,
  // and a branch may land before the lower numbers it skipped (each migration stands alone).
  migrations.forEach((migration, index) => {
    const previous = migrations[index - 1];
    if (previous && previous.version === migration.version) {
      throw new Error(`two migrations are numbered ${String(migration.version).padStart(3, '0')}`);
    }
  });
  return migrations;
}

export const ORIGINAL_DATABASE_MESSAGE =
  'this database was written by the original (Python) Cost Guardian; start with a new DB_PATH and import it with `cost-guardian import-original <path>`';

/**
 * Applies every migration not yet recorded in schema_migrations, each in its own transaction.
 * Fails loudly on a database this build does not understand (a newer schema, a renamed migration,
 * or the original Flask version's database).
 */
export function migrate(db: Database.Database, migrations: Migration[] = loadMigrations()): number[] {
  const tables = new Set(
    (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map(
      (r) => r.name,
    ),
  );
  if (tables.has('usage_log') && !tables.has('schema_migrations')) {
    throw new Error(ORIGINAL_DATABASE_MESSAGE);
  }
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const applied = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as {
    version: number;
    name: string;
  }[];
  for (const row of applied) {
    const known = migrations.find((m) => m.version === row.version);
    if (!known) {
      throw new Error(
        `database has migration ${row.version} (${row.name}) that this build does not know: it was written by a newer version`,
      );
    }
    if (known.name !== row.name) {
      throw new Error(
        `migration ${row.version} is recorded as "${row.name}" but this build calls it "${known.name}"`,
      );
    }
  }
  const done = new Set(applied.map((row) => row.version));
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const newlyApplied: number[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    // A migration that edits table definitions in sqlite_schema (SQLite's documented way to change
    // a CHECK constraint without rebuilding the table) needs better-sqlite3's defensive mode off,
    // and the schema version bumped so that every connection re-reads the schema.
    const editsSchema = WRITABLE_SCHEMA.test(migration.sql);
    if (editsSchema) db.unsafeMode(true);
    try {
      db.transaction(() => {
        db.exec(migration.sql);
        if (editsSchema) {
          const version = db.pragma('schema_version', { simple: true }) as number;
          db.pragma(`schema_version = ${version + 1}`);
        }
        record.run(migration.version, migration.name, Date.now());
      })();
    } finally {
      if (editsSchema) db.unsafeMode(false);
    }
    newlyApplied.push(migration.version);
  }
  return newlyApplied;
}
