import type Database from 'better-sqlite3';
import type { NewUsage } from '../store.js';
import type { RateSetIds } from './rate-sets.js';
import { fillUsageValues, USAGE_COLUMNS } from './usage-columns.js';

/**
 * Writes many usage rows that are known to be new (an import, benchmark data) several times faster
 * than the ingest insert: positional multi-row INSERTs, no per-row duplicate answer, no token
 * last-seen update. A row whose (token, event_id) is already stored makes the whole load throw
 * (the unique index refuses it), so the caller's transaction rolls back and nothing drifts.
 * The caller stages the rows for the rollups (RollupWriter.stageRows) in the same transaction.
 */

/** Rows per statement: 50 x 29 parameters stays far below SQLite's limit of 32,766. */
const ROWS_PER_STATEMENT = 50;

export function createBulkLoader(
  db: Database.Database,
  rateSets: RateSetIds,
): (records: readonly NewUsage[]) => void {
  const row = `(${USAGE_COLUMNS.map(() => '?').join(', ')})`;
  const insert = (count: number) =>
    db.prepare(
      `INSERT INTO usage_log (${USAGE_COLUMNS.join(', ')}) VALUES ${Array(count).fill(row).join(', ')}`,
    );
  const many = insert(ROWS_PER_STATEMENT);
  const one = insert(1);
  const params = new Array<unknown>(ROWS_PER_STATEMENT * USAGE_COLUMNS.length);
  const single = new Array<unknown>(USAGE_COLUMNS.length);
  return (records) => {
    let index = 0;
    for (; index + ROWS_PER_STATEMENT <= records.length; index += ROWS_PER_STATEMENT) {
      for (let i = 0; i < ROWS_PER_STATEMENT; i += 1) {
        const record = records[index + i] as NewUsage;
        fillUsageValues(params, i * USAGE_COLUMNS.length, record, rateSets.idFor(record.pricingRates));
      }
      many.run(params);
    }
    for (; index < records.length; index += 1) {
      const record = records[index] as NewUsage;
      fillUsageValues(single, 0, record, rateSets.idFor(record.pricingRates));
      one.run(single);
    }
  };
}

/**
 * Drops usage_log's indexes for a large load and returns the function that recreates them from
 * their recorded definitions (sorting once is much cheaper than updating every index per row).
 * By default the unique event index stays, so duplicates are still refused during the load; with
 * `unique: true` it goes too, and a duplicate makes the recreation throw instead (for data that
 * is unique by construction). Reads that would use a dropped index are slow until it is back.
 */
export function suspendUsageIndexes(db: Database.Database, options: { unique?: boolean } = {}): () => void {
  const indexes = (
    db
      .prepare(
        `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_log' AND sql IS NOT NULL`,
      )
      .all() as { name: string; sql: string }[]
  ).filter((index) => options.unique === true || !/^CREATE UNIQUE/i.test(index.sql));
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);
  return () => {
    for (const index of indexes) db.exec(index.sql);
  };
}
