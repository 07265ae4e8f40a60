import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { loadMigrations, migrate } from '../src/storage/sqlite/migrate.js';
import { openDatabase } from '../src/storage/sqlite/open-database.js';

test('migration 011 lets usage rows have source otlp, keeps the rows, and still refuses other sources', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-migrate-otlp-'));
  const file = path.join(dir, 'usage.sqlite');
  const db = openDatabase(file);
  const other = openDatabase(file);
  try {
    migrate(
      db,
      loadMigrations().filter((migration) => migration.version <= 10),
    );
    const insertRow = (connection: typeof db, source: string) =>
      connection
        .prepare(`INSERT INTO usage_log (ts, received_at, source, provider, model, prompt_tokens,
          completion_tokens, total_tokens, cost_nanousd, pricing_status)
          VALUES (1, 1, ?, 'openai', 'gpt-4o', 10, 5, 15, 100, 'priced')`)
        .run(source);
    insertRow(db, 'ingest');
    expect(() => insertRow(db, 'otlp')).toThrow(/CHECK constraint failed/);
    expect(other.prepare('SELECT COUNT(*) AS n FROM usage_log').get()).toEqual({ n: 1 });

    expect(
      migrate(
        db,
        loadMigrations().filter((migration) => migration.version <= 11),
      ),
    ).toEqual([11]);

    for (const connection of [db, other]) {
      insertRow(connection, 'otlp');
      expect(() => insertRow(connection, 'elsewhere')).toThrow(
        /CHECK constraint failed: source = 'ingest' OR/,
      );
    }
    expect(db.prepare('SELECT source FROM usage_log ORDER BY id').all()).toEqual([
      { source: 'ingest' },
      { source: 'otlp' },
      { source: 'otlp' },
    ]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  } finally {
    db.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
