import type Database from 'better-sqlite3';
import { type CoverTier, coverInterval } from '../../lib/interval-cover.js';
import type { UsageFilter } from '../store.js';
import {
  addTotals,
  emptyTotals,
  type UsageAggregateCell,
  type UsageAggregateQuery,
  type UsageAggregateResult,
  type UsageGroupBy,
  type UsageTotals,
} from '../usage-aggregate.js';
import {
  ALL_DIM,
  detailCovers,
  ROLLUP_TABLES,
  type RollupDetail,
  rollupLayout,
  tagDim,
  USER_DIM,
} from './rollup-writer.js';

/**
 * Answers UsageAggregateQuery on SQLite. Each interval is split (lib/interval-cover.ts) into whole
 * UTC months, days and hours, answered from the rollup tables, and leftover minutes at odd edges
 * (half-hour time zones, ranges that start at "now"), answered from usage_log. One query per tier
 * covers every interval: the pieces travel as a JSON array joined against the table, so SQLite
 * seeks each piece's range on the primary key.
 *
 * The rollups hold one dimension at a time (all rows, one user, or one tag key), so a query that
 * filters or groups on two of them (a user and a tag, two tags) is answered from usage_log alone.
 */

type Params = Record<string, string | number>;

interface Dims {
  /** The rollup dimension to read; undefined when the rollups cannot answer. */
  dim: string | undefined;
  /** Filter on that dimension's value. */
  value: string | undefined;
}

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

/** What a rollup row must keep apart to answer the query. */
function neededDetail(filter: UsageFilter, groupBy: UsageGroupBy | null): RollupDetail {
  if (filter.model !== undefined || filter.provider !== undefined) return 'full';
  if (groupBy?.kind === 'model' || groupBy?.kind === 'provider') return 'full';
  if (filter.ingestTokenId !== undefined || groupBy?.kind === 'token') return 'token';
  return 'none';
}

const ROLLUP_SUMS = `SUM(r.requests) AS requests, SUM(r.prompt_tokens) AS promptTokens,
  SUM(r.completion_tokens) AS completionTokens, SUM(r.total_tokens) AS totalTokens,
  SUM(r.cached_tokens) AS cachedTokens, SUM(r.cache_write_tokens) AS cacheWriteTokens,
  SUM(r.reasoning_tokens) AS reasoningTokens, SUM(r.input_audio_tokens) AS inputAudioTokens,
  SUM(r.output_audio_tokens) AS outputAudioTokens, SUM(r.cost_nanousd) AS costNanoUsd,
  SUM(r.unpriced_requests) AS unpricedRequests`;

const RAW_SUMS = `COUNT(*) AS requests, SUM(u.prompt_tokens) AS promptTokens,
  SUM(u.completion_tokens) AS completionTokens, SUM(u.total_tokens) AS totalTokens,
  SUM(u.cached_tokens) AS cachedTokens, SUM(u.cache_write_tokens) AS cacheWriteTokens,
  SUM(u.reasoning_tokens) AS reasoningTokens, SUM(u.input_audio_tokens) AS inputAudioTokens,
  SUM(u.output_audio_tokens) AS outputAudioTokens, COALESCE(SUM(u.cost_nanousd), 0) AS costNanoUsd,
  SUM(u.cost_nanousd IS NULL) AS unpricedRequests`;

const SEGMENTS = `WITH seg(i, s, e) AS (
  SELECT CAST(key AS INTEGER), json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@segments))`;

type SumRow = UsageTotals & { seg: number; grp: string | number | null };

/** One piece of one interval's cover, shared by every interval that needs it. */
interface Segment {
  startMs: number;
  endMs: number;
  uses: { interval: number; sign: number }[];
}

export class AggregateQueries {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  aggregate(query: UsageAggregateQuery): UsageAggregateResult {
    const dims =
      query.source === 'raw' ? { dim: undefined, value: undefined } : chooseDims(query.filter, query.groupBy);
    const cells = new Map<string, UsageAggregateCell>();
    if (dims.dim === undefined) {
      const segments = new Map<string, Segment>();
      query.intervals.forEach((interval, index) => {
        addSegment(segments, interval.startMs, interval.endMs, index, 1);
      });
      const list = [...segments.values()];
      this.addRows(cells, list, this.rawRows(query, list, false));
      return this.result('raw', cells, query.groupBy);
    }

    const needed = neededDetail(query.filter, query.groupBy);
    const units = rollupLayout(dims.dim)
      .filter(([, kept]) => detailCovers(kept, needed))
      .map(([unit]) => unit);
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
    for (const [tier, segmentMap] of byTier) {
      const segments = [...segmentMap.values()];
      const rows =
        tier === 'raw'
          ? this.rawRows(query, segments, dimGrouped)
          : this.rollupRows(tier, dims.dim, dims.value, query, segments);
      this.addRows(cells, segments, rows);
    }
    // Rows without the grouped user or tag are not in that dimension's rollup rows: they are the
    // total minus every group.
    if (dimGrouped && dims.value === undefined) {
      const totals = new Map<string, UsageAggregateCell>();
      const ungrouped = { ...query, groupBy: null };
      for (const [tier, segmentMap] of byTier) {
        const segments = [...segmentMap.values()];
        const rows =
          tier === 'raw'
            ? this.rawRows(ungrouped, segments, false)
            : this.rollupRows(tier, ALL_DIM, undefined, ungrouped, segments);
        this.addRows(totals, segments, rows);
      }
      const grouped = new Map<number, UsageTotals>();
      for (const cell of cells.values()) {
        let sum = grouped.get(cell.interval);
        if (!sum) {
          sum = emptyTotals();
          grouped.set(cell.interval, sum);
        }
        addTotals(sum, cell.totals);
      }
      for (const total of totals.values()) {
        const none = { interval: total.interval, group: null, totals: { ...total.totals } };
        const sum = grouped.get(total.interval);
        if (sum) addTotals(none.totals, sum, -1);
        cells.set(cellKey(total.interval, null), none);
      }
    }
    return this.result('rollups', cells, query.groupBy);
  }

  private result(
    source: 'rollups' | 'raw',
    cells: Map<string, UsageAggregateCell>,
    groupBy: UsageGroupBy | null,
  ): UsageAggregateResult {
    const labels: Record<string, string> = {};
    if (groupBy?.kind === 'token') {
      const rows = this.prepare('SELECT id, label FROM ingest_tokens').all() as {
        id: number;
        label: string;
      }[];
      for (const row of rows) labels[String(row.id)] = row.label;
    }
    return {
      source,
      cells: [...cells.values()]
        .filter((cell) => cell.totals.requests !== 0)
        .sort((a, b) => a.interval - b.interval),
      labels,
    };
  }

  private addRows(cells: Map<string, UsageAggregateCell>, segments: Segment[], rows: SumRow[]): void {
    for (const row of rows) {
      const segment = segments[row.seg];
      if (!segment) continue;
      const group = row.grp === null ? null : String(row.grp);
      for (const use of segment.uses) {
        const key = cellKey(use.interval, group);
        let cell = cells.get(key);
        if (!cell) {
          cell = { interval: use.interval, group, totals: emptyTotals() };
          cells.set(key, cell);
        }
        addTotals(cell.totals, row, use.sign);
      }
    }
  }

  private rollupRows(
    tier: Exclude<CoverTier, 'raw'>,
    dim: string,
    dimValue: string | undefined,
    query: UsageAggregateQuery,
    segments: Segment[],
  ): SumRow[] {
    const { filter, groupBy } = query;
    const params: Params = { dim, segments: segmentsJson(segments) };
    const conditions = ['r.dim = @dim', 'r.bucket_start >= seg.s', 'r.bucket_start < seg.e'];
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
    const group = rollupGroup(groupBy);
    const sql = `${SEGMENTS}
      SELECT seg.i AS seg, ${group} AS grp, ${ROLLUP_SUMS}
      FROM seg CROSS JOIN ${ROLLUP_TABLES[tier]} r
      WHERE ${conditions.join(' AND ')}
      GROUP BY seg.i, grp`;
    return this.prepare(sql).all(params) as SumRow[];
  }

  /** `groupedOnly`: leave out rows without the grouped user/tag (they are computed by difference). */
  private rawRows(query: UsageAggregateQuery, segments: Segment[], groupedOnly: boolean): SumRow[] {
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
    const sql = `${SEGMENTS}
      SELECT seg.i AS seg, ${group} AS grp, ${RAW_SUMS}
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

function cellKey(interval: number, group: string | null): string {
  return group === null ? `${interval}` : `${interval}\u0000${group}`;
}
