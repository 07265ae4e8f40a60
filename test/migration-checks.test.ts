import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { loadMigrations, migrate } from '../src/storage/sqlite/migrate.js';
import { openDatabase } from '../src/storage/sqlite/open-database.js';
import { ROLLUP_TABLES } from '../src/storage/sqlite/rollup-writer.js';
import { USAGE_COLUMNS } from '../src/storage/sqlite/usage-columns.js';

const ROLLUP_TABLE_NAMES = Object.values(ROLLUP_TABLES);

test('migration 008 rewrites the IN-list CHECKs in place: rows kept, constraints still enforced, no temporary b-tree per insert', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-migrate-checks-'));
  const file = path.join(dir, 'usage.sqlite');
  const db = openDatabase(file);
  const other = openDatabase(file);
  try {
    migrate(
      db,
      loadMigrations().filter((migration) => migration.version < 8),
    );
    db.prepare(
      "INSERT INTO ingest_tokens (label, token, active, created_at) VALUES ('a', 'tok-a', 1, 0)",
    ).run();
    const insertRow = (connection: typeof db, source: string, status: string) =>
      connection
        .prepare(`INSERT INTO usage_log (ts, received_at, source, ingest_token_id, provider, model,
          prompt_tokens, completion_tokens, total_tokens, cost_nanousd, pricing_status)
          VALUES (1, 1, ?, 1, 'openai', 'gpt-4o', 10, 5, 15, 100, ?)`)
        .run(source, status);
    insertRow(db, 'ingest', 'priced');
    insertRow(db, 'legacy', 'estimated');
    insertRow(db, 'import', 'unpriced');
    const before = db.prepare('SELECT * FROM usage_log ORDER BY id').all();
    // A second connection (the read worker's, another process's) has read the old schema.
    expect(other.prepare('SELECT COUNT(*) AS n FROM usage_log').get()).toEqual({ n: 3 });

    expect(
      migrate(
        db,
        loadMigrations().filter((migration) => migration.version <= 8),
      ),
    ).toEqual([8]);

    expect(db.prepare('SELECT * FROM usage_log ORDER BY id').all()).toEqual(before);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const definitions = db
      .prepare(`SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name IN (?, ?, ?, ?, ?)`)
      .all('usage_log', ...ROLLUP_TABLE_NAMES) as { name: string; sql: string }[];
    expect(definitions).toHaveLength(5);
    for (const { name, sql } of definitions) {
      expect(sql, name).not.toMatch(/\b(source|pricing_status|detail) IN \(/);
    }
    expect(definitions.find((d) => d.name === 'usage_log')?.sql).toContain(
      "CHECK (pricing_status = 'priced' OR pricing_status = 'estimated' OR pricing_status = 'unpriced')",
    );

    // The constraints still hold, on this connection and on the one that read the old schema.
    for (const connection of [db, other]) {
      expect(() => insertRow(connection, 'elsewhere', 'priced')).toThrow(
        /CHECK constraint failed: source = 'ingest' OR/,
      );
      expect(() => insertRow(connection, 'ingest', 'free')).toThrow(
        /CHECK constraint failed: pricing_status/,
      );
      for (const table of ROLLUP_TABLE_NAMES) {
        expect(() =>
          connection
            .prepare(
              `INSERT INTO ${table} VALUES ('all', 'every', 0, '', 0, 'openai', 'm', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)`,
            )
            .run(),
        ).toThrow(/CHECK constraint failed: detail/);
      }
    }
    insertRow(other, 'ingest', 'priced');

    // What the migration is for: inserting a usage row builds no temporary b-tree.
    const insertUsage = `INSERT INTO usage_log (${USAGE_COLUMNS.join(', ')}) VALUES (${USAGE_COLUMNS.map(() => '?').join(', ')})`;
    const program = db.prepare(`EXPLAIN ${insertUsage}`).all(...USAGE_COLUMNS.map(() => null)) as {
      opcode: string;
    }[];
    expect(program.length).toBeGreaterThan(50);
    expect(program.filter((step) => step.opcode === 'OpenEphemeral')).toEqual([]);

    // Defensive mode is back on: the schema cannot be edited by accident afterwards.
    db.pragma('writable_schema = ON');
    expect(() => db.prepare("UPDATE sqlite_schema SET sql = sql WHERE name = 'usage_log'").run()).toThrow(
      /may not be modified/,
    );
  } finally {
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
