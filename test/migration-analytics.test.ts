import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { loadMigrations, migrate } from '../src/storage/sqlite/migrate.js';
import { openDatabase } from '../src/storage/sqlite/open-database.js';
import { RollupWriter } from '../src/storage/sqlite/rollup-writer.js';

test('usage written before the rollup migrations (003, 006) gets the same rollups as a rebuild from the rows', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-migrate-'));
  const db = openDatabase(path.join(dir, 'usage.sqlite'));
  try {
    migrate(
      db,
      loadMigrations().filter((migration) => !migration.sql.includes('usage_rollup_')),
    );
    db.prepare(
      "INSERT INTO ingest_tokens (label, token, active, created_at) VALUES ('a', 'tok-a', 1, 0)",
    ).run();
    const insert =
      db.prepare(`INSERT INTO usage_log (ts, received_at, source, ingest_token_id, provider, model,
      prompt_tokens, completion_tokens, total_tokens, cost_nanousd, pricing_status)
      VALUES (?, 0, 'ingest', ?, 'openai', ?, 10, 5, 15, ?, ?)`);
    const times = [
      Date.UTC(2025, 0, 31, 23, 59),
      Date.UTC(2025, 1, 1),
      Date.UTC(2025, 1, 1, 0, 30),
      Date.UTC(2025, 1, 1, 0, 44, 59, 999),
      Date.UTC(2025, 1, 1, 0, 45),
      Date.UTC(1969, 11, 31, 23, 59, 59, 999),
    ];
    times.forEach((ts, i) => {
      insert.run(
        ts,
        i % 2 === 0 ? 1 : null,
        i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
        i === 2 ? null : 1000 + i,
        i === 2 ? 'unpriced' : 'priced',
      );
    });
    migrate(db);
    const snapshot = () =>
      ['quarter_hour', 'hour', 'day', 'month'].map((unit) =>
        db
          .prepare(
            `SELECT * FROM usage_rollup_${unit} ORDER BY dim, detail, bucket_start, dim_value, ingest_token_id, provider, model`,
          )
          .all(),
      );
    const migrated = snapshot();
    expect(migrated.flat().length).toBeGreaterThan(10);
    db.transaction(() => new RollupWriter(db).rebuild())();
    expect(migrated).toEqual(snapshot());
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
