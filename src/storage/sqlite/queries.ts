import type Database from 'better-sqlite3';
import type { ExportedUsageRow } from '../../lib/usage-export.js';
import type {
  ModelUsage,
  StoreStats,
  TokenRecord,
  TokenSummary,
  UsageCursor,
  UsageFilter,
  UsagePage,
  UsageRow,
} from '../store.js';
import { analyticsFilterSql } from './aggregate-queries.js';
import { storedRatesSql } from './rate-sets.js';
import { tagsFromJson } from './usage-columns.js';

/**
 * Read queries shared by the main-thread store and the read worker. All SQL text for reads lives
 * here; every value is a bound parameter.
 */

const USAGE_COLUMNS = `
  u.id, u.ts, u.received_at AS receivedAt, u.source, u.ingest_token_id AS ingestTokenId,
  u.event_id AS eventId, u.provider, u.model,
  u.prompt_tokens AS promptTokens, u.completion_tokens AS completionTokens, u.total_tokens AS totalTokens,
  u.cached_tokens AS cachedTokens, u.cache_write_tokens AS cacheWriteTokens,
  u.cache_write_extended_tokens AS cacheWriteExtendedTokens,
  u.reasoning_tokens AS reasoningTokens, u.input_audio_tokens AS inputAudioTokens,
  u.output_audio_tokens AS outputAudioTokens, u.service_tier AS serviceTier, u.batch,
  u.completion_window AS completionWindow, u.cost_nanousd AS costNanoUsd,
  u.pricing_status AS pricingStatus, u.pricing_source AS pricingSource, ${storedRatesSql('u')} AS pricingRates,
  u.client_cost_nanousd AS clientCostNanoUsd, u.meta, u.raw_usage AS rawUsage, t.label AS tokenLabel,
  u.end_user AS user, u.tags`;

type RawUsageRow = Omit<UsageRow, 'batch' | 'tags'> & { batch: number; tags: string | null };

const EXPORT_COLUMNS = `
  u.id, u.ts, u.model, u.prompt_tokens, u.completion_tokens, u.total_tokens, u.cost_nanousd, u.provider,
  u.ingest_token_id, t.label, u.event_id, u.source, u.cached_tokens, u.cache_write_tokens,
  u.cache_write_extended_tokens, u.reasoning_tokens, u.input_audio_tokens, u.output_audio_tokens,
  u.service_tier, u.batch, u.pricing_status, u.pricing_source, u.client_cost_nanousd, u.end_user, u.tags`;

/** An EXPORT_COLUMNS row, in that order. */
function toExportedRow(raw: unknown[]): ExportedUsageRow {
  return {
    id: raw[0] as number,
    ts: raw[1] as number,
    model: raw[2] as string,
    promptTokens: raw[3] as number,
    completionTokens: raw[4] as number,
    totalTokens: raw[5] as number,
    costNanoUsd: raw[6] as number | null,
    provider: raw[7] as string,
    ingestTokenId: raw[8] as number | null,
    tokenLabel: raw[9] as string | null,
    eventId: raw[10] as string | null,
    source: raw[11] as UsageRow['source'],
    cachedTokens: raw[12] as number,
    cacheWriteTokens: raw[13] as number,
    cacheWriteExtendedTokens: raw[14] as number,
    reasoningTokens: raw[15] as number,
    inputAudioTokens: raw[16] as number,
    outputAudioTokens: raw[17] as number,
    serviceTier: raw[18] as string | null,
    batch: raw[19] === 1,
    pricingStatus: raw[20] as UsageRow['pricingStatus'],
    pricingSource: raw[21] as string | null,
    clientCostNanoUsd: raw[22] as number | null,
    user: raw[23] as string | null,
    tags: tagsFromJson(raw[24] as string | null),
  };
}

function toUsageRow(raw: RawUsageRow): UsageRow {
  return { ...raw, batch: raw.batch === 1, tags: tagsFromJson(raw.tags) };
}

interface FilterSql {
  where: string;
  params: Record<string, string | number>;
}

function filterSql(filter: UsageFilter, after?: UsageCursor): FilterSql {
  const conditions: string[] = [];
  const params: Record<string, string | number> = {};
  if (filter.startMs !== undefined) {
    conditions.push('u.ts >= @startMs');
    params.startMs = filter.startMs;
  }
  if (filter.endMs !== undefined) {
    conditions.push('u.ts <= @endMs');
    params.endMs = filter.endMs;
  }
  if (filter.model !== undefined) {
    conditions.push('u.model = @model');
    params.model = filter.model;
  }
  if (filter.ingestTokenId !== undefined) {
    conditions.push('u.ingest_token_id = @ingestTokenId');
    params.ingestTokenId = filter.ingestTokenId;
  }
  conditions.push(...analyticsFilterSql(filter, params));
  if (after) {
    conditions.push('(u.ts < @afterTs OR (u.ts = @afterTs AND u.id < @afterId))');
    params.afterTs = after.ts;
    params.afterId = after.id;
  }
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

/** Runs a raw statement on first pull (so that an export never started holds nothing open). */
function* inChunks(
  statement: Database.Statement,
  params: Record<string, string | number>,
  chunkRows: number,
): Generator<ExportedUsageRow[]> {
  let chunk: ExportedUsageRow[] = [];
  for (const raw of statement.iterate(params) as IterableIterator<unknown[]>) {
    chunk.push(toExportedRow(raw));
    if (chunk.length >= chunkRows) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Prepared statements of single-shot reads (all/get) are cached by their SQL text (the filter shape
 * decides the text); an export's iteration never uses the cache (iterateUsage).
 */
export class ReadQueries {
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

  usageSelect(
    filter: UsageFilter,
    after?: UsageCursor,
    limit?: number,
  ): { statement: Database.Statement; params: Record<string, string | number> } {
    const { where, params } = filterSql(filter, after);
    const limitSql = limit === undefined ? '' : ' LIMIT @limit';
    if (limit !== undefined) params.limit = limit;
    const sql = `SELECT ${USAGE_COLUMNS} FROM usage_log u LEFT JOIN ingest_tokens t ON t.id = u.ingest_token_id
      ${where} ORDER BY u.ts DESC, u.id DESC${limitSql}`;
    return { statement: this.prepare(sql), params };
  }

  listUsage(filter: UsageFilter, limit: number, after?: UsageCursor): UsagePage {
    // One extra row tells whether another page exists without a COUNT.
    const { statement, params } = this.usageSelect(filter, after, limit + 1);
    const raw = statement.all(params) as RawUsageRow[];
    const rows = raw.slice(0, limit).map(toUsageRow);
    const last = rows[rows.length - 1];
    const next = raw.length > limit && last ? { ts: last.ts, id: last.id } : null;
    return { rows, next };
  }

  /**
   * Iterates matching rows newest first, with the exported columns only; the caller pulls chunks
   * at its own pace. Rows come from SQLite as arrays (building a 25-property object per row in
   * the driver costs as much as the query itself).
   *
   * Every call prepares a statement of its own: a statement runs one iteration at a time, and a
   * cached one shared by two identical exports made the second fail with "This statement is busy
   * executing a query" (issue 17). Preparing costs microseconds against an export's seconds.
   */
  iterateUsage(filter: UsageFilter, chunkRows: number): Generator<ExportedUsageRow[]> {
    const { where, params } = filterSql(filter);
    const statement = this.db
      .prepare(
        `SELECT ${EXPORT_COLUMNS} FROM usage_log u LEFT JOIN ingest_tokens t ON t.id = u.ingest_token_id
      ${where} ORDER BY u.ts DESC, u.id DESC`,
      )
      .raw(true);
    return inChunks(statement, params, chunkRows);
  }

  listModels(): string[] {
    // The monthly rollup has every model with usage, in a few thousand rows at most.
    const rows = this.prepare(
      `SELECT DISTINCT model FROM usage_rollup_month WHERE dim = '' AND detail = 'full' ORDER BY model`,
    ).all() as {
      model: string;
    }[];
    return rows.map((row) => row.model);
  }

  listModelUsage(): ModelUsage[] {
    return this.prepare(`
      SELECT provider, model, COUNT(*) AS requests, SUM(cost_nanousd IS NULL) AS unpricedRequests,
             SUM(pricing_status = 'estimated') AS estimatedRequests,
             COALESCE(SUM(cost_nanousd), 0) AS costNanoUsd, MAX(ts) AS lastAt
      FROM usage_log GROUP BY model, provider ORDER BY model, provider`).all() as ModelUsage[];
  }

  listTokens(): TokenSummary[] {
    const rows = this.prepare(`
      SELECT t.id, t.label, t.token, t.active, t.created_at AS createdAt, t.last_seen_at AS lastSeenAt,
             COALESCE(a.usageCount, 0) AS usageCount, COALESCE(a.costNanoUsd, 0) AS costNanoUsd,
             COALESCE(a.unpricedCount, 0) AS unpricedCount
      FROM ingest_tokens t
      LEFT JOIN (
        SELECT ingest_token_id, SUM(requests) AS usageCount, SUM(cost_nanousd) AS costNanoUsd,
               SUM(unpriced_requests) AS unpricedCount
        FROM usage_rollup_month WHERE dim = '' AND detail = 'full' AND ingest_token_id != 0
        GROUP BY ingest_token_id
      ) a ON a.ingest_token_id = t.id
      WHERE t.deleted_at IS NULL
      ORDER BY t.created_at DESC, t.id DESC`).all() as (Omit<TokenSummary, 'active'> & { active: number })[];
    return rows.map((row) => ({ ...row, active: row.active === 1 }));
  }

  stats(nowMs: number): StoreStats {
    const usage = this.prepare(`
      SELECT (SELECT COALESCE(SUM(requests), 0) FROM usage_rollup_month WHERE dim = '' AND detail = 'full') AS usageRows,
             (SELECT MAX(ts) FROM usage_log) AS lastUsageAt`).get() as {
      usageRows: number;
      lastUsageAt: number | null;
    };
    const tokens = this.prepare(`
      SELECT SUM(active = 1) AS activeTokens, MAX(last_seen_at) AS lastTokenSeenAt,
             SUM(last_seen_at > @m1) AS seen1m, SUM(last_seen_at > @m5) AS seen5m, SUM(last_seen_at > @h1) AS seen1h
      FROM ingest_tokens WHERE deleted_at IS NULL`).get({
      m1: nowMs - 60_000,
      m5: nowMs - 300_000,
      h1: nowMs - 3_600_000,
    }) as {
      activeTokens: number | null;
      lastTokenSeenAt: number | null;
      seen1m: number | null;
      seen5m: number | null;
      seen1h: number | null;
    };
    return {
      usageRows: usage.usageRows,
      lastUsageAt: usage.lastUsageAt,
      activeTokens: tokens.activeTokens ?? 0,
      lastTokenSeenAt: tokens.lastTokenSeenAt,
      tokensSeenLastMinute: tokens.seen1m ?? 0,
      tokensSeenLast5Minutes: tokens.seen5m ?? 0,
      tokensSeenLastHour: tokens.seen1h ?? 0,
    };
  }
}

export const TOKEN_COLUMNS = `id, label, token, active, created_at AS createdAt, last_seen_at AS lastSeenAt`;

export function toTokenRecord(raw: Omit<TokenRecord, 'active'> & { active: number }): TokenRecord {
  return { ...raw, active: raw.active === 1 };
}
