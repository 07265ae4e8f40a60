import type Database from 'better-sqlite3';
import { type CoverTier, coverInterval } from '../../lib/interval-cover.js';
import { addUtc, type UtcUnit } from '../../lib/utc-units.js';
import type { UsageFilter } from '../store.js';
import {
  TOTALS_FIELDS,
  type UsageAggregateQuery,
  type UsageAggregateResult,
  type UsageGroupBy,
  type UsageTotals,
} from '../usage-aggregate.js';
import {
  ALL_DIM,
  type DetailNeed,
  ROLLUP_TABLES,
  type RollupDetail,
  rollupTiers,
  tagDim,
  USER_DIM,
} from './rollup-writer.js';

/**
 * Answers UsageAggregateQuery on SQLite. Each interval is split (lib/interval-cover.ts) into whole
 * UTC months, days and hours, answered from the rollup tables, and leftover minutes at odd edges
 * (half-hour time zones, ranges that start at "now"), answered from usage_log. One query per tier
 * covers every interval: the pieces travel as a JSON array joined against the table, so SQLite
 * seeks each piece's range on the primary key. Each tier is read at the narrowest detail that
 * keeps what the query filters and groups on.
 *
 * The rollups hold one dimension at a time (all rows, one user, or one tag key), so a query that
 * filters or groups on two of them (a user and a tag, two tags) is answered from usage_log alone.
 */

type Params = Record<string, string | number>;
type Measure = keyof UsageTotals;

/** Raw-row conditions for the analytics filters (provider, user, tags); also used by /data. */
export function analyticsFilterSql(filter: UsageFilter, params: Params): string[] {
  const conditions: string[] = [];
  if (filter.provider !== undefined) {
    conditions.push('u.provider = @provider');
    params.provider = filter.provider;
  }
  if (filter.user !== undefined) {
    conditions.push('u.end_user = @user');
    params.user = filter.user;
  }
  filter.tags?.forEach((tag, index) => {
    conditions.push(`json_extract(u.tags, @tagPath${index}) = @tagValue${index}`);
    params[`tagPath${index}`] = tagPath(tag.key);
    params[`tagValue${index}`] = tag.value;
  });
  return conditions;
}

/** Tag keys are [A-Za-z0-9_.-]: quoted, a dot is part of the key, not a path step. */
function tagPath(key: string): string {
  return `$."${key}"`;
}

function dimOf(groupBy: UsageGroupBy | null): string | undefined {
  if (groupBy?.kind === 'user') return USER_DIM;
  if (groupBy?.kind === 'tag') return tagDim(groupBy.key);
  return undefined;
}

interface Dims {
  /** The rollup dimension to read; undefined when the rollups cannot answer. */
  dim: string | undefined;
  /** Filter on that dimension's value. */
  value: string | undefined;
}

/** Which single rollup dimension can answer the query, if any. */
function chooseDims(filter: UsageFilter, groupBy: UsageGroupBy | null): Dims {
  const filters = new Map<string, Set<string>>();
  const note = (dim: string, value: string) => {
    const values = filters.get(dim) ?? new Set<string>();
    values.add(value);
    filters.set(dim, values);
  };
  if (filter.user !== undefined) note(USER_DIM, filter.user);
  for (const tag of filter.tags ?? []) note(tagDim(tag.key), tag.value);
  const groupDim = dimOf(groupBy);
  const dims = new Set([...filters.keys(), ...(groupDim ? [groupDim] : [])]);
  if (dims.size === 0) return { dim: ALL_DIM, value: undefined };
  const [dim] = [...dims];
  const values = dim === undefined ? undefined : filters.get(dim);
  if (dims.size > 1 || dim === undefined || (values && values.size > 1))
    return { dim: undefined, value: undefined };
  return { dim, value: values ? [...values][0] : undefined };
}

/** Whether the query is answered from usage rows alone (asked so, or no rollup dimension fits it). */
export function scansUsageRows(query: UsageAggregateQuery): boolean {
  return query.source === 'raw' || chooseDims(query.filter, query.groupBy).dim === undefined;
}

/** What a rollup row must keep apart to answer the query. */
function detailNeed(filter: UsageFilter, groupBy: UsageGroupBy | null): DetailNeed {
  return {
    token: filter.ingestTokenId !== undefined || groupBy?.kind === 'token',
    model:
      filter.model !== undefined ||
      filter.provider !== undefined ||
      groupBy?.kind === 'model' ||
      groupBy?.kind === 'provider',
  };
}

const ROLLUP_COLUMNS: Record<Measure, string> = {
  requests: 'r.requests',
  promptTokens: 'r.prompt_tokens',
  completionTokens: 'r.completion_tokens',
  totalTokens: 'r.total_tokens',
  cachedTokens: 'r.cached_tokens',
  cacheWriteTokens: 'r.cache_write_tokens',
  reasoningTokens: 'r.reasoning_tokens',
  inputAudioTokens: 'r.input_audio_tokens',
  outputAudioTokens: 'r.output_audio_tokens',
  costNanoUsd: 'r.cost_nanousd',
  unpricedRequests: 'r.unpriced_requests',
};

const RAW_SUMS: Record<Measure, string> = {
  requests: 'COUNT(*)',
  promptTokens: 'SUM(u.prompt_tokens)',
  completionTokens: 'SUM(u.completion_tokens)',
  totalTokens: 'SUM(u.total_tokens)',
  cachedTokens: 'SUM(u.cached_tokens)',
  cacheWriteTokens: 'SUM(u.cache_write_tokens)',
  reasoningTokens: 'SUM(u.reasoning_tokens)',
  inputAudioTokens: 'SUM(u.input_audio_tokens)',
  outputAudioTokens: 'SUM(u.output_audio_tokens)',
  costNanoUsd: 'COALESCE(SUM(u.cost_nanousd), 0)',
  unpricedRequests: 'SUM(u.cost_nanousd IS NULL)',
};

const SEGMENTS = `WITH seg(i, s, e) AS (
  SELECT CAST(key AS INTEGER), json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@segments))`;

/** One piece of one interval's cover, shared by every interval that needs it. */
interface Segment {
  startMs: number;
  endMs: number;
  uses: { interval: number; sign: number }[];
}

/** A row of a tier query: segment index, group value, then the requested measures. */
type SumRow = [number, string | number | null, ...(number | null)[]];

/** Sums per (interval, group), in flat arrays. */
class Cells {
  readonly groups: (string | null)[] = [];
  private readonly groupIndex = new Map<string | null, number>();
  private readonly index = new Map<number, number>();
  readonly intervals: number[] = [];
  readonly groupOf: number[] = [];
  readonly totals: number[] = [];

  constructor(private readonly measures: readonly number[]) {}

  groupId(group: string | null): number {
    let id = this.groupIndex.get(group);
    if (id === undefined) {
      id = this.groups.length;
      this.groups.push(group);
      this.groupIndex.set(group, id);
    }
    return id;
  }

  /** The cell's offset in `totals`, created at zero when new. */
  offset(interval: number, groupId: number): number {
    const key = interval * 2_097_152 + groupId;
    let cell = this.index.get(key);
    if (cell === undefined) {
      cell = this.intervals.length;
      this.index.set(key, cell);
      this.intervals.push(interval);
      this.groupOf.push(groupId);
      for (let i = 0; i < TOTALS_FIELDS.length; i += 1) this.totals.push(0);
    }
    return cell * TOTALS_FIELDS.length;
  }

  addRows(segments: Segment[], rows: SumRow[]): void {
    for (const row of rows) {
      const segment = segments[row[0]];
      if (!segment) continue;
      const group = row[1] === null ? null : String(row[1]);
      const groupId = this.groupId(group);
      for (const use of segment.uses) {
        const offset = this.offset(use.interval, groupId);
        for (let m = 0; m < this.measures.length; m += 1) {
          const field = offset + (this.measures[m] ?? 0);
          this.totals[field] = (this.totals[field] ?? 0) + use.sign * ((row[m + 2] as number | null) ?? 0);
        }
      }
    }
  }
}

export class AggregateQueries {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql).raw(true);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  aggregate(query: UsageAggregateQuery): UsageAggregateResult {
    const measures = query.measures ?? TOTALS_FIELDS;
    const positions = measures.map((measure) => TOTALS_FIELDS.indexOf(measure));
    // requests decides which cells exist: always read it.
    if (!measures.includes('requests'))
      return this.aggregate({ ...query, measures: ['requests', ...measures] });
    const dims =
      query.source === 'raw' ? { dim: undefined, value: undefined } : chooseDims(query.filter, query.groupBy);
    const cells = new Cells(positions);
    if (dims.dim === undefined) {
      const segments = new Map<string, Segment>();
      query.intervals.forEach((interval, index) => {
        addSegment(segments, interval.startMs, interval.endMs, index, 1);
      });
      const list = [...segments.values()];
      cells.addRows(list, this.rawRows(query, measures, list, false));
      return this.result('raw', cells, query.groupBy);
    }

    const tiers = rollupTiers(dims.dim, detailNeed(query.filter, query.groupBy));
    const units = tiers.map((tier) => tier.unit);
    const byTier = new Map<CoverTier, Map<string, Segment>>();
    query.intervals.forEach((interval, index) => {
      for (const piece of coverInterval(interval.startMs, interval.endMs, units)) {
        let segments = byTier.get(piece.tier);
        if (!segments) {
          segments = new Map();
          byTier.set(piece.tier, segments);
        }
        addSegment(segments, piece.startMs, piece.endMs, index, piece.sign);
      }
    });
    const dimGrouped = query.groupBy?.kind === 'user' || query.groupBy?.kind === 'tag';
    const read = (
      target: Cells,
      dim: string,
      dimValue: string | undefined,
      q: UsageAggregateQuery,
      grouped: boolean,
    ) => {
      // Every dimension's tiers are among the all-rows dimension's, so `units` suit both.
      const details = new Map(
        rollupTiers(dim, detailNeed(q.filter, q.groupBy)).map((t) => [t.unit, t.detail]),
      );
      for (const [tier, segmentMap] of byTier) {
        const segments = [...segmentMap.values()];
        const rows =
          tier === 'raw'
            ? this.rawRows(q, measures, segments, grouped)
            : this.rollupRows(tier, details.get(tier) ?? 'full', dim, dimValue, q, measures, segments);
        target.addRows(segments, rows);
      }
    };
    read(cells, dims.dim, dims.value, query, dimGrouped);
    // Rows without the grouped user or tag are not in that dimension's rollup rows: they are the
    // total minus every group.
    if (dimGrouped && dims.value === undefined) {
      const totals = new Cells(positions);
      read(totals, ALL_DIM, undefined, { ...query, groupBy: null }, false);
      const none = cells.groupId(null);
      const width = TOTALS_FIELDS.length;
      for (let t = 0; t < totals.intervals.length; t += 1) {
        const offset = cells.offset(totals.intervals[t] ?? 0, none);
        for (let f = 0; f < width; f += 1) {
          cells.totals[offset + f] = (cells.totals[offset + f] ?? 0) + (totals.totals[t * width + f] ?? 0);
        }
      }
      for (let c = 0; c < cells.intervals.length; c += 1) {
        if (cells.groupOf[c] === none) continue;
        const offset = cells.offset(cells.intervals[c] ?? 0, none);
        for (let f = 0; f < width; f += 1) {
          cells.totals[offset + f] = (cells.totals[offset + f] ?? 0) - (cells.totals[c * width + f] ?? 0);
        }
      }
    }
    return this.result('rollups', cells, query.groupBy);
  }

  private result(
    source: 'rollups' | 'raw',
    cells: Cells,
    groupBy: UsageGroupBy | null,
  ): UsageAggregateResult {
    const labels: Record<string, string> = {};
    if (groupBy?.kind === 'token') {
      const rows = this.prepare('SELECT id, label FROM ingest_tokens').all() as [number, string][];
      for (const [id, label] of rows) labels[String(id)] = label;
    }
    // Cells whose signed pieces cancel out (and groups emptied by a difference) have no requests.
    const width = TOTALS_FIELDS.length;
    const kept: number[] = [];
    for (let c = 0; c < cells.intervals.length; c += 1)
      if ((cells.totals[c * width] ?? 0) !== 0) kept.push(c);
    kept.sort((a, b) => (cells.intervals[a] ?? 0) - (cells.intervals[b] ?? 0));
    const cellTotals = new Float64Array(kept.length * width);
    kept.forEach((c, i) => {
      for (let f = 0; f < width; f += 1) cellTotals[i * width + f] = cells.totals[c * width + f] ?? 0;
    });
    return {
      source,
      groups: cells.groups,
      cellIntervals: Int32Array.from(kept, (c) => cells.intervals[c] ?? 0),
      cellGroups: Int32Array.from(kept, (c) => cells.groupOf[c] ?? 0),
      cellTotals,
      labels,
    };
  }

  private rollupRows(
    tier: UtcUnit,
    detail: RollupDetail,
    dim: string,
    dimValue: string | undefined,
    query: UsageAggregateQuery,
    measures: readonly Measure[],
    segments: Segment[],
  ): SumRow[] {
    const { filter, groupBy } = query;
    const params: Params = { dim, detail, segments: segmentsJson(segments) };
    const conditions = [
      'r.dim = @dim',
      'r.detail = @detail',
      'r.bucket_start >= seg.s',
      'r.bucket_start < seg.e',
    ];
    if (dimValue !== undefined) {
      conditions.push('r.dim_value = @dimValue');
      params.dimValue = dimValue;
    }
    if (filter.model !== undefined) {
      conditions.push('r.model = @model');
      params.model = filter.model;
    }
    if (filter.provider !== undefined) {
      conditions.push('r.provider = @provider');
      params.provider = filter.provider;
    }
    if (filter.ingestTokenId !== undefined) {
      conditions.push('r.ingest_token_id = @tokenId');
      params.tokenId = filter.ingestTokenId;
    }
    // When the detail keeps exactly what the query groups on and every segment is one bucket, each
    // segment has one row per group already: reading the rows is cheaper than having SQLite group
    // them. Segments of several buckets are grouped in SQL: turning every row into a JS array costs
    // more than SQLite's sort (13-month daily series by model in New York, five hour buckets per
    // segment: 39k rows read in 29-50 ms, grouped to 7.9k in 19-21 ms; docs/adr/005-rollup-tiers.md).
    const exact =
      ((detail === 'none' &&
        (groupBy === null || dimValue !== undefined || groupBy.kind === 'user' || groupBy.kind === 'tag')) ||
        (detail === 'model' && groupBy?.kind === 'model') ||
        (detail === 'token' && groupBy?.kind === 'token')) &&
      segments.every((segment) => addUtc(tier, segment.startMs, 1) === segment.endMs);
    const columns = exact
      ? measures.map((measure) => ROLLUP_COLUMNS[measure]).join(', ')
      : measures.map((measure) => `SUM(${ROLLUP_COLUMNS[measure]})`).join(', ');
    const sql = `${SEGMENTS}
      SELECT seg.i, ${rollupGroup(groupBy)} AS grp, ${columns}
      FROM seg CROSS JOIN ${ROLLUP_TABLES[tier]} r
      WHERE ${conditions.join(' AND ')}
      ${exact ? '' : 'GROUP BY seg.i, grp'}`;
    return this.prepare(sql).all(params) as SumRow[];
  }

  /** `groupedOnly`: leave out rows without the grouped user/tag (they are computed by difference). */
  private rawRows(
    query: UsageAggregateQuery,
    measures: readonly Measure[],
    segments: Segment[],
    groupedOnly: boolean,
  ): SumRow[] {
    const { filter, groupBy } = query;
    const params: Params = { segments: segmentsJson(segments) };
    const conditions = ['u.ts >= seg.s', 'u.ts < seg.e'];
    if (filter.model !== undefined) {
      conditions.push('u.model = @model');
      params.model = filter.model;
    }
    if (filter.ingestTokenId !== undefined) {
      conditions.push('u.ingest_token_id = @tokenId');
      params.tokenId = filter.ingestTokenId;
    }
    conditions.push(...analyticsFilterSql(filter, params));
    let group = 'NULL';
    switch (groupBy?.kind) {
      case 'model':
        group = 'u.model';
        break;
      case 'provider':
        group = 'u.provider';
        break;
      case 'token':
        group = 'u.ingest_token_id';
        break;
      case 'user':
        group = 'u.end_user';
        break;
      case 'tag':
        group = 'json_extract(u.tags, @groupPath)';
        params.groupPath = tagPath(groupBy.key);
        break;
    }
    if (groupedOnly) conditions.push(`${group} IS NOT NULL`);
    const sums = measures.map((measure) => RAW_SUMS[measure]).join(', ');
    const sql = `${SEGMENTS}
      SELECT seg.i, ${group} AS grp, ${sums}
      FROM seg CROSS JOIN usage_log u
      WHERE ${conditions.join(' AND ')}
      GROUP BY seg.i, grp`;
    return this.prepare(sql).all(params) as SumRow[];
  }
}

function rollupGroup(groupBy: UsageGroupBy | null): string {
  switch (groupBy?.kind) {
    case 'model':
      return 'r.model';
    case 'provider':
      return 'r.provider';
    case 'token':
      return 'NULLIF(r.ingest_token_id, 0)';
    case 'user':
    case 'tag':
      return 'r.dim_value';
    default:
      return 'NULL';
  }
}

function addSegment(
  segments: Map<string, Segment>,
  startMs: number,
  endMs: number,
  interval: number,
  sign: number,
) {
  const key = `${startMs}:${endMs}`;
  let segment = segments.get(key);
  if (!segment) {
    segment = { startMs, endMs, uses: [] };
    segments.set(key, segment);
  }
  segment.uses.push({ interval, sign });
}

function segmentsJson(segments: Segment[]): string {
  return JSON.stringify(segments.map((segment) => [segment.startMs, segment.endMs]));
}
