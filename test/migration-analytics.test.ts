import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { openImportTarget } from '../src/storage/sqlite/import-writer.js';
import { loadMigrations, migrate } from '../src/storage/sqlite/migrate.js';
import { openDatabase } from '../src/storage/sqlite/open-database.js';
import { RollupWriter } from '../src/storage/sqlite/rollup-writer.js';

test('usage written before the analytics migration gets the same rollups as a rebuild from the rows', () => {
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
      ['hour', 'day', 'month'].map((unit) =>
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

test('rows written by an import of the original database are in the rollups too', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-import-rollups-'));
  const file = path.join(dir, 'usage.sqlite');
  try {
    const target = openImportTarget(file);
    target.insertTokens([
      {
        id: 7,
        label: 'legacy-app',
        token: 'tok-legacy',
        active: true,
        createdAt: 0,
        lastSeenAt: null,
        deletedAt: null,
      },
    ]);
    const row = (originalId: number, ts: number, model: string, cost: number | null) => ({
      originalId,
      ts,
      receivedAt: ts,
      source: 'import' as const,
      ingestTokenId: originalId % 2 === 0 ? 7 : null,
      eventId: null,
      provider: 'openai',
      model,
      promptTokens: 100,
      completionTokens: 20,
      totalTokens: 120,
      cachedTokens: 0,
      cacheWriteTokens: 0,
      cacheWriteExtendedTokens: 0,
      reasoningTokens: 0,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      serviceTier: null,
      batch: false,
      completionWindow: null,
      costNanoUsd: cost,
      pricingStatus: cost === null ? ('unpriced' as const) : ('priced' as const),
      pricingSource: null,
      pricingRates: null,
      clientCostNanoUsd: null,
      meta: null,
      rawUsage: null,
    });
    const rows = [
      row(1, Date.UTC(2025, 3, 1, 10), 'gpt-4o', 900),
      row(2, Date.UTC(2025, 3, 2, 11), 'gpt-4o', 1200),
      row(3, Date.UTC(2025, 4, 1), 'mystery', null),
    ];
    expect(target.insertUsage(rows).created).toEqual([1, 2, 3]);
    expect(target.insertUsage(rows).alreadyImported).toEqual([1, 2, 3]);
    target.close();
    const db = openDatabase(file);
    try {
      const snapshot = () =>
        ['hour', 'day', 'month'].map((unit) =>
          db
            .prepare(
              `SELECT * FROM usage_rollup_${unit} ORDER BY dim, detail, bucket_start, dim_value, ingest_token_id, provider, model`,
            )
            .all(),
        );
      const imported = snapshot();
      expect(imported[2]).toContainEqual(
        expect.objectContaining({
          dim: '',
          detail: 'full',
          requests: 1,
          model: 'mystery',
          unpriced_requests: 1,
        }),
      );
      db.transaction(() => new RollupWriter(db).rebuild())();
      expect(imported).toEqual(snapshot());
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
