import type Database from 'better-sqlite3';
import { floorUtc, type UtcUnit } from '../../lib/utc-units.js';
import type { TokenCounts } from '../store.js';

/**
 * Keeps the rollup tables (migration 003) equal to the raw usage rows. Every write to usage_log
 * must report its rows here in the same transaction: inserts, cost changes (reprice) and the
 * reset. Nothing else may write usage_log or the rollups.
 *
 * Writers do not upsert per row: a job collects its changes in a RollupDelta (summed per rollup
 * key in memory), hands it to the writer once its rows are written, and the writer upserts once
 * per distinct key just before the group commit (see WriteQueue's beforeCommit).
 */

export const ROLLUP_TABLES: Readonly<Record<UtcUnit, string>> = {
  hour: 'usage_rollup_hour',
  day: 'usage_rollup_day',
  month: 'usage_rollup_month',
};
const UNITS = Object.keys(ROLLUP_TABLES) as UtcUnit[];

/** Which rollup rows a usage row counts in. */
export interface RollupKey {
  ts: number;
  ingestTokenId: number | null;
  provider: string;
  model: string;
  user?: string | null;
  tags?: Readonly<Record<string, string>> | null;
}

/** What a rollup needs to know about a usage row. */
export interface RollupRow extends RollupKey, TokenCounts {
  costNanoUsd: number | null;
}

/** The dimension of a rollup row: all rows, one end user, or one tag key. */
export const ALL_DIM = '';
export const USER_DIM = 'user';
export function tagDim(key: string): string {
  return `tag:${key}`;
}

/** The tiers kept per dimension, coarsest first. */
const ALL_UNITS: readonly UtcUnit[] = ['month', 'day', 'hour'];
/**
 * End users have no hourly rollup: there are about as many (user, hour) pairs as rows with a user,
 * so an hourly user rollup would cost a write per row and save nothing over reading the rows.
 */
const USER_UNITS: readonly UtcUnit[] = ['month', 'day'];

export function rollupUnits(dim: string): readonly UtcUnit[] {
  return dim === USER_DIM ? USER_UNITS : ALL_UNITS;
}

interface Entry {
  unit: UtcUnit;
  dim: string;
  bucketStart: number;
  dimValue: string;
  tokenId: number;
  provider: string;
  model: string;
  /** requests, the eight token buckets, cost, unpriced requests. */
  sums: number[];
}

const MEASURES = 11;

/** Changes to the rollups, summed per rollup key; cheap to build, applied by RollupWriter. */
export class RollupDelta {
  readonly entries = new Map<string, Entry>();

  get size(): number {
    return this.entries.size;
  }

  /** A row was inserted (sign 1) or deleted (sign -1). */
  addRow(row: RollupRow, sign: 1 | -1 = 1): void {
    const sums = [
      sign,
      sign * row.promptTokens,
      sign * row.completionTokens,
      sign * row.totalTokens,
      sign * row.cachedTokens,
      sign * row.cacheWriteTokens,
      sign * row.reasoningTokens,
      sign * row.inputAudioTokens,
      sign * row.outputAudioTokens,
      sign * (row.costNanoUsd ?? 0),
      row.costNanoUsd === null ? sign : 0,
    ];
    this.addToEveryDim(row, sums);
  }

  /** The row's stored cost changed from `before` to `after` (null = unpriced). */
  addCostChange(row: RollupKey, before: number | null, after: number | null): void {
    if (before === after) return;
    const sums = new Array<number>(MEASURES).fill(0);
    sums[9] = (after ?? 0) - (before ?? 0);
    sums[10] = (after === null ? 1 : 0) - (before === null ? 1 : 0);
    this.addToEveryDim(row, sums);
  }

  /** Adds another delta into this one, taking over its entries: do not use `other` afterwards. */
  absorb(other: RollupDelta): void {
    for (const [key, entry] of other.entries) {
      const mine = this.entries.get(key);
      if (!mine) this.entries.set(key, entry);
      else for (let i = 0; i < MEASURES; i += 1) mine.sums[i] = (mine.sums[i] ?? 0) + (entry.sums[i] ?? 0);
    }
    other.entries.clear();
  }

  clear(): void {
    this.entries.clear();
  }

  private addToEveryDim(row: RollupKey, sums: number[]): void {
    const tokenId = row.ingestTokenId ?? 0;
    // The key's tail is the same for every tier and dimension of the row.
    const tail = `\u0000${tokenId}\u0000${row.provider}\u0000${row.model}`;
    for (const unit of ALL_UNITS) {
      const bucketStart = floorUtc(unit, row.ts);
      this.add(unit, ALL_DIM, bucketStart, '', tokenId, tail, row, sums);
      if (row.user && unit !== 'hour')
        this.add(unit, USER_DIM, bucketStart, row.user, tokenId, tail, row, sums);
      if (row.tags) {
        for (const key in row.tags) {
          const value = row.tags[key];
          if (value !== undefined) this.add(unit, tagDim(key), bucketStart, value, tokenId, tail, row, sums);
        }
      }
    }
  }

  private add(
    unit: UtcUnit,
    dim: string,
    bucketStart: number,
    dimValue: string,
    tokenId: number,
    tail: string,
    row: RollupKey,
    sums: number[],
  ): void {
    const key = `${unit}\u0000${dim}\u0000${bucketStart}\u0000${dimValue}${tail}`;
    const entry = this.entries.get(key);
    if (!entry) {
      this.entries.set(key, {
        unit,
        dim,
        bucketStart,
        dimValue,
        tokenId,
        provider: row.provider,
        model: row.model,
        sums: [...sums],
      });
      return;
    }
    for (let i = 0; i < MEASURES; i += 1) entry.sums[i] = (entry.sums[i] ?? 0) + (sums[i] ?? 0);
  }
}

const MEASURE_COLUMNS = [
  'requests',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cached_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'input_audio_tokens',
  'output_audio_tokens',
  'cost_nanousd',
  'unpriced_requests',
] as const;
const KEY_COLUMNS = ['dim', 'bucket_start', 'dim_value', 'ingest_token_id', 'provider', 'model'] as const;

function upsertSql(table: string): string {
  const columns = [...KEY_COLUMNS, ...MEASURE_COLUMNS];
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
    ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET
    ${MEASURE_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;
}

/** Applies deltas to the rollup tables of one connection; used inside write transactions only. */
export class RollupWriter {
  private readonly pending = new RollupDelta();
  private readonly upserts: Record<UtcUnit, Database.Statement>;
  private readonly deletes: Database.Statement[];

  constructor(private readonly db: Database.Database) {
    this.upserts = {
      hour: db.prepare(upsertSql(ROLLUP_TABLES.hour)),
      day: db.prepare(upsertSql(ROLLUP_TABLES.day)),
      month: db.prepare(upsertSql(ROLLUP_TABLES.month)),
    };
    this.deletes = UNITS.map((unit) => db.prepare(`DELETE FROM ${ROLLUP_TABLES[unit]}`));
  }

  /** Queues a job's delta for the next flush. Call only once the job's rows are written. */
  stage(delta: RollupDelta): void {
    this.pending.absorb(delta);
  }

  /** Writes every staged change. Must run inside the transaction that wrote the rows. */
  flush(): void {
    if (this.pending.size === 0) return;
    const entries = [...this.pending.entries.values()];
    // Cleared first: if an upsert throws, the transaction rolls back and so must the staging.
    this.pending.clear();
    for (const entry of entries) {
      this.upserts[entry.unit].run(
        entry.dim,
        entry.bucketStart,
        entry.dimValue,
        entry.tokenId,
        entry.provider,
        entry.model,
        ...entry.sums,
      );
    }
  }

  /** Forgets staged changes (their transaction failed). */
  discard(): void {
    this.pending.clear();
  }

  /** Empties every rollup table (with the reset that deletes every usage row). */
  clearAll(): void {
    this.pending.clear();
    for (const statement of this.deletes) statement.run();
  }

  /**
   * Recomputes every rollup from usage_log in SQL, independently of the incremental path: for
   * databases written by other means (an import) and as a check. Runs in the caller's transaction.
   */
  rebuild(): void {
    this.clearAll();
    const sums = `COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
      SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
      COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)`;
    const buckets: Record<UtcUnit, string> = {
      hour: 'ts - ((ts % 3600000) + 3600000) % 3600000',
      day: 'ts - ((ts % 86400000) + 86400000) % 86400000',
      month: `CAST(strftime('%s', ts / 1000.0, 'unixepoch', 'start of month') AS INTEGER) * 1000`,
    };
    for (const unit of UNITS) {
      const table = ROLLUP_TABLES[unit];
      const bucket = buckets[unit];
      const rest = 'COALESCE(ingest_token_id, 0), provider, model';
      const users = rollupUnits(USER_DIM).includes(unit)
        ? `INSERT INTO ${table} SELECT 'user', ${bucket} AS b, end_user, ${rest}, ${sums}
          FROM usage_log WHERE end_user IS NOT NULL GROUP BY b, end_user, ${rest};`
        : '';
      this.db.exec(`
        INSERT INTO ${table} SELECT '', ${bucket} AS b, '', ${rest}, ${sums}
          FROM usage_log GROUP BY b, ${rest};
        ${users}
        INSERT INTO ${table} SELECT 'tag:' || j.key, ${bucket} AS b, j.value, ${rest}, ${sums}
          FROM usage_log, json_each(usage_log.tags) j WHERE usage_log.tags IS NOT NULL
          GROUP BY j.key, b, j.value, ${rest};`);
    }
  }
}
