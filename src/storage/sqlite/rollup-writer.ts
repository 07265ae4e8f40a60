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
  quarterHour: 'usage_rollup_quarter_hour',
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

/**
 * What a rollup row keeps apart, besides its dimension value: 'full' per (token, provider, model),
 * 'token' per token, 'model' per (provider, model), 'none' nothing. Fields not kept are stored as
 * token 0, provider '' and model ''. A query reads, per tier, the narrowest detail that keeps what
 * it filters and groups on (a daily total is one row a day instead of one per token and model).
 */
export type RollupDetail = 'full' | 'token' | 'model' | 'none';

/** Narrowest first: the order in which a query tries them. */
const DETAIL_PREFERENCE: readonly RollupDetail[] = ['none', 'model', 'token', 'full'];

export interface DetailNeed {
  token: boolean;
  model: boolean;
}

function keeps(detail: RollupDetail, need: DetailNeed): boolean {
  if (need.token && detail !== 'full' && detail !== 'token') return false;
  if (need.model && detail !== 'full' && detail !== 'model') return false;
  return true;
}

export type Layout = readonly { unit: UtcUnit; details: readonly RollupDetail[] }[];

/**
 * The tiers kept per dimension, coarsest first, and their details. Narrow details cost little to
 * keep (a group commit sums all its rows into one 'none' row per tier) and make the common
 * questions read a few rows per bucket; the monthly tier is small enough at full detail. User and
 * tag dimensions keep less in their fine tiers because those would be about as large as
 * usage_log (thousands of users and tag values an hour at 10M rows) and cost a write per row for
 * no read benefit: a user or tag question that needs what a tier lacks reads usage_log for that
 * part (sub-day edges, mostly). The quarter-hour tier is there for time zones at :30 and :45
 * (India, Nepal, South Australia...), whose day boundaries fall mid-hour: it keeps totals and
 * per-model rows, so their daily series read two quarter-hour buckets per boundary instead of half
 * an hour of usage rows; per-token questions in those zones still read those edges from the rows.
 */
const LAYOUT_ALL: Layout = [
  { unit: 'month', details: ['full'] },
  { unit: 'day', details: ['full', 'token', 'model', 'none'] },
  { unit: 'hour', details: ['full', 'token', 'model', 'none'] },
  { unit: 'quarterHour', details: ['model', 'none'] },
];
const LAYOUT_TAG: Layout = [
  { unit: 'month', details: ['full'] },
  { unit: 'day', details: ['full', 'none'] },
  { unit: 'hour', details: ['none'] },
];
const LAYOUT_USER: Layout = [
  { unit: 'month', details: ['full', 'none'] },
  { unit: 'day', details: ['token'] },
];

export function rollupLayout(dim: string): Layout {
  if (dim === ALL_DIM) return LAYOUT_ALL;
  return dim === USER_DIM ? LAYOUT_USER : LAYOUT_TAG;
}

/** Per usable tier of `dim` (coarsest first), the narrowest detail that keeps what is needed. */
export function rollupTiers(dim: string, need: DetailNeed): { unit: UtcUnit; detail: RollupDetail }[] {
  const tiers: { unit: UtcUnit; detail: RollupDetail }[] = [];
  for (const { unit, details } of rollupLayout(dim)) {
    const detail = DETAIL_PREFERENCE.find(
      (candidate) => details.includes(candidate) && keeps(candidate, need),
    );
    if (detail) tiers.push({ unit, detail });
  }
  return tiers;
}

interface Entry {
  unit: UtcUnit;
  dim: string;
  detail: RollupDetail;
  bucketStart: number;
  dimValue: string;
  tokenId: number;
  provider: string;
  model: string;
  /** requests, the eight token buckets, cost, unpriced requests. */
  sums: number[];
}

const MEASURES = 11;

function addSums(target: number[], source: readonly number[]): void {
  for (let i = 0; i < MEASURES; i += 1) target[i] = (target[i] ?? 0) + (source[i] ?? 0);
}

/** 2^26: dimension-value ids and tail ids each stay below it, so their combination is exact. */
const ID_SPAN = 67_108_864;

/** Changes to the rollups, summed per rollup key; cheap to build, applied by RollupWriter. */
export class RollupDelta {
  /**
   * Per tier, per bucket start, per (dim, value, token, provider, model): full detail only; the
   * narrower details are summed from these when the delta is written (entries()), once per key
   * instead of once per row. This runs about a dozen times per ingested row, so the inner key is a
   * number: (dim, value) and (token, provider, model) are interned to small ids per delta and
   * combined. Entry objects exist only for new keys.
   */
  private readonly tiers = new Map<UtcUnit, Map<number, Map<number, Entry>>>(
    UNITS.map((unit) => [unit, new Map()]),
  );
  private readonly dimValueIds = new Map<string, Map<string, number>>();
  private readonly tailIds = new Map<string, number>();
  private nextDimValueId = 0;
  private count = 0;
  private lastDay = Number.NaN;
  private lastMonth = 0;

  /** Full-detail entries held (0 = nothing to write). */
  get size(): number {
    return this.count;
  }

  /** Every rollup row to add to, at every detail its tier keeps. */
  *entries(): Generator<Entry> {
    for (const [unit, buckets] of this.tiers) {
      for (const entries of buckets.values()) yield* projectEntries(unit, entries.values());
    }
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
    for (const [unit, buckets] of other.tiers) {
      for (const [bucketStart, entries] of buckets) {
        const mine = this.bucket(unit, bucketStart);
        for (const entry of entries.values()) {
          const key =
            this.dimValueId(entry.dim, entry.dimValue) * ID_SPAN +
            this.tailId(tailOf(entry.detail, entry.tokenId, entry.provider, entry.model));
          const existing = mine.get(key);
          if (existing) addSums(existing.sums, entry.sums);
          else {
            mine.set(key, entry);
            this.count += 1;
          }
        }
      }
    }
    other.clear();
  }

  clear(): void {
    for (const buckets of this.tiers.values()) buckets.clear();
    this.dimValueIds.clear();
    this.tailIds.clear();
    this.nextDimValueId = 0;
    this.count = 0;
  }

  private dimValueId(dim: string, value: string): number {
    let values = this.dimValueIds.get(dim);
    if (!values) {
      values = new Map();
      this.dimValueIds.set(dim, values);
    }
    let id = values.get(value);
    if (id === undefined) {
      id = this.nextDimValueId++;
      values.set(value, id);
    }
    return id;
  }

  private tailId(tail: string): number {
    let id = this.tailIds.get(tail);
    if (id === undefined) {
      id = this.tailIds.size;
      this.tailIds.set(tail, id);
    }
    return id;
  }

  private bucket(unit: UtcUnit, bucketStart: number): Map<number, Entry> {
    const buckets = this.tiers.get(unit) as Map<number, Map<number, Entry>>;
    let entries = buckets.get(bucketStart);
    if (!entries) {
      entries = new Map();
      buckets.set(bucketStart, entries);
    }
    return entries;
  }

  private addToEveryDim(row: RollupKey, sums: number[]): void {
    const tokenId = row.ingestTokenId ?? 0;
    const day = floorUtc('day', row.ts);
    // Rows mostly come in time order: the month of the previous row's day is usually this one's.
    if (day !== this.lastDay) {
      this.lastDay = day;
      this.lastMonth = floorUtc('month', row.ts);
    }
    const buckets: Record<UtcUnit, number> = {
      month: this.lastMonth,
      day,
      hour: floorUtc('hour', row.ts),
      quarterHour: floorUtc('quarterHour', row.ts),
    };
    const tail = this.tailId(tailOf('full', tokenId, row.provider, row.model));
    const add = (dim: string, dimValue: string, layout: Layout) => {
      const key = this.dimValueId(dim, dimValue) * ID_SPAN + tail;
      for (const { unit } of layout) {
        const entries = this.bucket(unit, buckets[unit]);
        const existing = entries.get(key);
        if (existing) {
          addSums(existing.sums, sums);
          continue;
        }
        entries.set(key, {
          unit,
          dim,
          detail: 'full',
          bucketStart: buckets[unit],
          dimValue,
          tokenId,
          provider: row.provider,
          model: row.model,
          sums: sums.slice(),
        });
        this.count += 1;
      }
    };
    add(ALL_DIM, '', LAYOUT_ALL);
    if (row.user) add(USER_DIM, row.user, LAYOUT_USER);
    if (row.tags) for (const [dim, value] of tagPairs(row.tags)) add(dim, value, LAYOUT_TAG);
  }
}

/** A tag set's (dimension, value) pairs, kept per set object: clients reuse their tag objects. */
const tagPairCache = new WeakMap<object, readonly (readonly [string, string])[]>();
function tagPairs(tags: Readonly<Record<string, string>>): readonly (readonly [string, string])[] {
  let pairs = tagPairCache.get(tags);
  if (!pairs) {
    pairs = Object.entries(tags)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, value]) => [tagDim(key), value] as const);
    tagPairCache.set(tags, pairs);
  }
  return pairs;
}

/** The details a tier keeps for a dimension. */
function keptDetails(dim: string, unit: UtcUnit): readonly RollupDetail[] {
  return rollupLayout(dim).find((tier) => tier.unit === unit)?.details ?? [];
}

/** The rollup rows of a delta's full-detail entries: each projected to every kept detail. */
function* projectEntries(unit: UtcUnit, entries: Iterable<Entry>): Generator<Entry> {
  const narrow = new Map<string, Entry>();
  for (const entry of entries) {
    for (const detail of keptDetails(entry.dim, unit)) {
      if (detail === 'full') {
        yield entry;
        continue;
      }
      const tokenId = detail === 'token' ? entry.tokenId : 0;
      const provider = detail === 'model' ? entry.provider : '';
      const model = detail === 'model' ? entry.model : '';
      const key = `${entry.dim}\u0000${entry.dimValue}\u0000${tailOf(detail, tokenId, provider, model)}`;
      const existing = narrow.get(key);
      if (existing) addSums(existing.sums, entry.sums);
      else narrow.set(key, { ...entry, detail, tokenId, provider, model, sums: entry.sums.slice() });
    }
  }
  yield* narrow.values();
}

function tailOf(detail: RollupDetail, tokenId: number, provider: string, model: string): string {
  return `${detail}\u0000${tokenId}\u0000${provider}\u0000${model}`;
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
const KEY_COLUMNS = [
  'dim',
  'detail',
  'bucket_start',
  'dim_value',
  'ingest_token_id',
  'provider',
  'model',
] as const;

function upsertSql(table: string): string {
  const columns = [...KEY_COLUMNS, ...MEASURE_COLUMNS];
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
    ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET
    ${MEASURE_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;
}

function deleteEmptiedSql(table: string): string {
  return `DELETE FROM ${table} WHERE ${KEY_COLUMNS.map((c) => `${c} = ?`).join(' AND ')} AND requests = 0`;
}

/** Applies deltas to the rollup tables of one connection; used inside write transactions only. */
export class RollupWriter {
  private readonly pending = new RollupDelta();
  private readonly upserts: Record<UtcUnit, Database.Statement>;
  private readonly emptied: Record<UtcUnit, Database.Statement>;
  private readonly deletes: Database.Statement[];

  constructor(private readonly db: Database.Database) {
    this.upserts = {
      quarterHour: db.prepare(upsertSql(ROLLUP_TABLES.quarterHour)),
      hour: db.prepare(upsertSql(ROLLUP_TABLES.hour)),
      day: db.prepare(upsertSql(ROLLUP_TABLES.day)),
      month: db.prepare(upsertSql(ROLLUP_TABLES.month)),
    };
    this.emptied = {
      quarterHour: db.prepare(deleteEmptiedSql(ROLLUP_TABLES.quarterHour)),
      hour: db.prepare(deleteEmptiedSql(ROLLUP_TABLES.hour)),
      day: db.prepare(deleteEmptiedSql(ROLLUP_TABLES.day)),
      month: db.prepare(deleteEmptiedSql(ROLLUP_TABLES.month)),
    };
    this.deletes = UNITS.map((unit) => db.prepare(`DELETE FROM ${ROLLUP_TABLES[unit]}`));
  }

  /** Queues a job's delta for the next flush. Call only once the job's rows are written. */
  stage(delta: RollupDelta): void {
    this.pending.absorb(delta);
  }

  /**
   * Queues rows a job inserted, for the next flush; cheaper than a delta per job (an ingest job is
   * one record). Call only once the job's rows are written, as its last step: a job that fails
   * before it leaves no trace.
   */
  stageRows(rows: readonly RollupRow[]): void {
    for (const row of rows) this.pending.addRow(row);
  }

  /** Writes every staged change. Must run inside the transaction that wrote the rows. */
  flush(): void {
    if (this.pending.size === 0) return;
    const entries = [...this.pending.entries()];
    // Cleared first: if an upsert throws, the transaction rolls back and so must the staging.
    this.pending.clear();
    for (const entry of entries) {
      const key = [
        entry.dim,
        entry.detail,
        entry.bucketStart,
        entry.dimValue,
        entry.tokenId,
        entry.provider,
        entry.model,
      ] as const;
      this.upserts[entry.unit].run(...key, ...entry.sums);
      // Rows left a key (a reprice moved them to another provider): a key with no rows has no
      // rollup row, as if it had never had any, so no group shows up with zero requests.
      if ((entry.sums[0] ?? 0) < 0) this.emptied[entry.unit].run(...key);
    }
  }

  /** Forgets every staged change (their transaction rolled back). */
  discardStaged(): void {
    this.pending.clear();
  }

  /** Empties every rollup table (with the reset that deletes every usage row). */
  clearAll(): void {
    this.pending.clear();
    for (const statement of this.deletes) statement.run();
  }

  /**
   * Recomputes every rollup from usage_log in SQL, independently of the incremental path: for
   * databases written by other means and as a check. Runs in the caller's transaction.
   */
  rebuild(): void {
    this.clearAll();
    for (const statement of rebuildStatements()) this.db.exec(statement);
  }
}

/** INSERT ... SELECT statements that compute every rollup row of `layouts` from usage_log. */
export function rebuildStatements(
  families: readonly ('all' | 'user' | 'tag')[] = ['all', 'user', 'tag'],
): string[] {
  const sums = `COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
    SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
    COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)`;
  const buckets: Record<UtcUnit, string> = {
    quarterHour: 'ts - ((ts % 900000) + 900000) % 900000',
    hour: 'ts - ((ts % 3600000) + 3600000) % 3600000',
    day: 'ts - ((ts % 86400000) + 86400000) % 86400000',
    month: `CAST(strftime('%s', ts / 1000.0, 'unixepoch', 'start of month') AS INTEGER) * 1000`,
  };
  // A constant cannot be a GROUP BY term (SQLite reads a number there as a column position).
  const details: Record<RollupDetail, { select: string; group: string }> = {
    full: {
      select: 'COALESCE(ingest_token_id, 0), provider, model',
      group: ', COALESCE(ingest_token_id, 0), provider, model',
    },
    token: { select: "COALESCE(ingest_token_id, 0), '', ''", group: ', COALESCE(ingest_token_id, 0)' },
    model: { select: '0, provider, model', group: ', provider, model' },
    none: { select: "0, '', ''", group: '' },
  };
  const sources = {
    all: { layout: LAYOUT_ALL, dim: "''", value: "''", from: 'usage_log' },
    user: {
      layout: LAYOUT_USER,
      dim: "'user'",
      value: 'end_user',
      from: 'usage_log WHERE end_user IS NOT NULL',
    },
    tag: {
      layout: LAYOUT_TAG,
      dim: "'tag:' || j.key",
      value: 'j.value',
      from: 'usage_log, json_each(usage_log.tags) j WHERE usage_log.tags IS NOT NULL',
    },
  };
  const statements: string[] = [];
  for (const family of families) {
    const source = sources[family];
    for (const { unit, details: kept } of source.layout) {
      for (const detail of kept) {
        statements.push(`INSERT INTO ${ROLLUP_TABLES[unit]}
          SELECT ${source.dim} AS d, '${detail}', ${buckets[unit]} AS b, ${source.value} AS v,
                 ${details[detail].select}, ${sums}
          FROM ${source.from} GROUP BY d, b, v${details[detail].group}`);
      }
    }
  }
  return statements;
}
