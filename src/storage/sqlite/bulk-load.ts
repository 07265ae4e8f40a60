import type Database from 'better-sqlite3';
import type { NewUsage } from '../store.js';
import type { RollupDelta } from './rollup-writer.js';
import { tagsToJson } from './usage-columns.js';

/**
 * Writes many usage rows that are known to be new (an import, benchmark data) several times faster
 * than the ingest insert: positional multi-row INSERTs, no per-row duplicate answer, no token
 * last-seen update. A row whose (token, event_id) is already stored makes the whole load throw
 * (the unique index refuses it), so the caller's transaction rolls back and nothing drifts.
 * Every row is added to `delta` for the rollups.
 */

const COLUMNS = [
  'ts',
  'received_at',
  'source',
  'ingest_token_id',
  'event_id',
  'provider',
  'model',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cached_tokens',
  'cache_write_tokens',
  'cache_write_extended_tokens',
  'reasoning_tokens',
  'input_audio_tokens',
  'output_audio_tokens',
  'service_tier',
  'batch',
  'completion_window',
  'cost_nanousd',
  'pricing_status',
  'pricing_source',
  'pricing_rates',
  'client_cost_nanousd',
  'meta',
  'raw_usage',
  'end_user',
  'tags',
] as const;

/** Rows per statement: 50 x 27 parameters stays far below SQLite's limit of 32,766. */
const ROWS_PER_STATEMENT = 50;

/** Writes the record's column values into `into` from `at` on. */
function fill(into: unknown[], at: number, record: NewUsage): void {
  const values = [
    record.ts,
    record.receivedAt,
    record.source,
    record.ingestTokenId,
    record.eventId,
    record.provider,
    record.model,
    record.promptTokens,
    record.completionTokens,
    record.totalTokens,
    record.cachedTokens,
    record.cacheWriteTokens,
    record.cacheWriteExtendedTokens,
    record.reasoningTokens,
    record.inputAudioTokens,
    record.outputAudioTokens,
    record.serviceTier,
    record.batch ? 1 : 0,
    record.completionWindow,
    record.costNanoUsd,
    record.pricingStatus,
    record.pricingSource,
    record.pricingRates,
    record.clientCostNanoUsd,
    record.meta,
    record.rawUsage,
    record.user ?? null,
    tagsToJson(record.tags),
  ];
  for (let i = 0; i < values.length; i += 1) into[at + i] = values[i];
}

export function createBulkLoader(
  db: Database.Database,
): (records: readonly NewUsage[], delta: RollupDelta) => void {
  const row = `(${COLUMNS.map(() => '?').join(', ')})`;
  const insert = (count: number) =>
    db.prepare(`INSERT INTO usage_log (${COLUMNS.join(', ')}) VALUES ${Array(count).fill(row).join(', ')}`);
  const many = insert(ROWS_PER_STATEMENT);
  const one = insert(1);
  const params = new Array<unknown>(ROWS_PER_STATEMENT * COLUMNS.length);
  const single = new Array<unknown>(COLUMNS.length);
  return (records, delta) => {
    let index = 0;
    for (; index + ROWS_PER_STATEMENT <= records.length; index += ROWS_PER_STATEMENT) {
      for (let i = 0; i < ROWS_PER_STATEMENT; i += 1) {
        const record = records[index + i] as NewUsage;
        fill(params, i * COLUMNS.length, record);
        delta.addRow(record);
      }
      many.run(params);
    }
    for (; index < records.length; index += 1) {
      const record = records[index] as NewUsage;
      fill(single, 0, record);
      one.run(single);
      delta.addRow(record);
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
