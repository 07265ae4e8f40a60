import { plainTokenCounts } from '../src/ingest/token-counts.js';
import { createBulkLoader, suspendUsageIndexes } from '../src/storage/sqlite/bulk-load.js';
import { migrate } from '../src/storage/sqlite/migrate.js';
import { openDatabase } from '../src/storage/sqlite/open-database.js';
import { RateSetIds } from '../src/storage/sqlite/rate-sets.js';
import type { NewUsage } from '../src/storage/store.js';

/** A realistic stored usage row (gpt-4o-mini, 1000 in / 500 out, priced), with overrides. */
export function usage(overrides: Partial<NewUsage> = {}): NewUsage {
  return {
    ts: Date.UTC(2026, 10, 1),
    receivedAt: Date.UTC(2026, 10, 1),
    source: 'ingest',
    ingestTokenId: null,
    eventId: null,
    provider: 'openai',
    model: 'gpt-4o-mini-2024-07-18',
    ...plainTokenCounts(1000, 500),
    serviceTier: null,
    batch: false,
    completionWindow: null,
    costNanoUsd: 450_000,
    pricingStatus: 'priced',
    pricingSource: 'builtin@1',
    pricingRates: null,
    clientCostNanoUsd: null,
    meta: null,
    rawUsage: null,
    user: null,
    tags: null,
    ...overrides,
  };
}

/**
 * Writes `count` usage rows, `row(i)` each, into a new database file several times faster than the
 * store's loadUsage: the bulk loader with usage_log's indexes suspended (as bench/generate.ts does),
 * and no rollups, so only raw-row reads (/data, exports) see these rows. For tests that need a
 * million rows; open the store on the file afterwards.
 */
export function writeUsageFile(dbPath: string, count: number, row: (index: number) => NewUsage): void {
  const db = openDatabase(dbPath);
  try {
    migrate(db);
    // Test data can be regenerated: no need to wait for the disk.
    db.pragma('synchronous = OFF');
    const restoreIndexes = suspendUsageIndexes(db, { unique: true });
    const bulkLoad = createBulkLoader(db, new RateSetIds(db));
    const load = db.transaction((records: NewUsage[]) => bulkLoad(records));
    const BATCH_ROWS = 50_000;
    for (let start = 0; start < count; start += BATCH_ROWS) {
      const records: NewUsage[] = [];
      for (let i = start; i < Math.min(count, start + BATCH_ROWS); i += 1) records.push(row(i));
      load(records);
    }
    restoreIndexes();
  } finally {
    db.close();
  }
}
