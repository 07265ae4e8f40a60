import { plainTokenCounts } from '../ingest/token-counts.js';
import { usdToNano } from '../lib/money.js';
import { parseIsoTime } from '../lib/time.js';
import type { Pricer } from '../pricing/types.js';
import type { OriginalUsageRow, SqliteValue } from '../storage/sqlite/original-database.js';
import type { NewUsage, UsageSource } from '../storage/store.js';

/** A usage row of the original, converted; `originalId` makes writing it again a no-op. */
export type ImportedUsage = NewUsage & { originalId: number };

/**
 * One usage row of the original Cost Guardian to one of ours. Pure. The original stored client
 * input nearly unvalidated (original-behaviour.md sections 3 and 9), so every field is checked:
 * - timestamp: free text. ISO-8601 with `Z` or an offset is converted to UTC; a time without a zone
 *   (and `YYYY-MM-DD HH:MM:SS`) is read as UTC, which is what the original's server wrote. NULL (from
 *   POST /log) or anything unparseable is a skip reason, unless the caller supplies `undatedAtMs`:
 *   then the row gets that time and keeps its original text in meta.
 * - token counts: NULL is 0; integers (also integral text like "7") are kept; anything else skips.
 * - estimatedCostUSD: kept as client_cost_nanousd for comparison; our price is computed anew.
 * - source: 'ingest' and 'legacy' are kept; others (v0.2 'probe') become 'import', named in meta.
 */

export type SkipReason =
  | 'missing_timestamp'
  | 'unparseable_timestamp'
  | 'missing_model'
  | 'invalid_token_counts';

export interface ConvertContext {
  pricer: Pricer;
  defaultProvider: string;
  /** Time given to rows whose timestamp is missing or unparseable; undefined skips them. */
  undatedAtMs?: number;
  apiKeys: ReadonlyMap<number, { label: string | null; provider: string | null }>;
}

export type ConvertResult =
  | {
      ok: true;
      usage: ImportedUsage;
      /** The timestamp had no zone and was read as UTC. */
      naive: boolean;
      /** The row got `undatedAtMs` instead of its own time. */
      undated: boolean;
      /** estimatedCostUSD held something that is not a number of dollars. */
      unreadableCost: boolean;
    }
  | { ok: false; reason: SkipReason };

const ZONED = /(?:[Zz]|[+-]\d{2}:?\d{2})$/;

export function sqliteText(value: SqliteValue): string | null {
  if (value === null) return null;
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  const trimmed = text.trim();
  return trimmed === '' ? null : trimmed;
}

/** An integer id or count, or undefined when the value is not one. */
export function sqliteInteger(value: SqliteValue): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === 'bigint')
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n ? Number(value) : undefined;
  if (typeof value === 'string' && /^\s*\d{1,15}\s*$/.test(value)) return Number(value);
  return undefined;
}

function tokenCount(value: SqliteValue): number | undefined {
  if (value === null) return 0;
  const n = sqliteInteger(value);
  return n !== undefined && n >= 0 ? n : undefined;
}

function dollars(value: SqliteValue): { nano: number | null; unreadable: boolean } {
  if (value === null) return { nano: null, unreadable: false };
  const usd = typeof value === 'number' ? value : Number(sqliteText(value) ?? Number.NaN);
  if (!Number.isFinite(usd) || Math.abs(usd) > 1_000_000_000) return { nano: null, unreadable: true };
  return { nano: usdToNano(usd), unreadable: false };
}

export function convertOriginalRow(row: OriginalUsageRow, ctx: ConvertContext): ConvertResult {
  const meta: Record<string, unknown> = {};

  const timestampText = sqliteText(row.timestamp);
  const parsed = timestampText === null ? undefined : parseIsoTime(timestampText);
  let ts: number;
  let undated = false;
  if (parsed) {
    ts = parsed.ms;
  } else if (ctx.undatedAtMs !== undefined) {
    ts = ctx.undatedAtMs;
    undated = true;
    meta.original_timestamp = timestampText;
  } else {
    return { ok: false, reason: timestampText === null ? 'missing_timestamp' : 'unparseable_timestamp' };
  }

  const model = sqliteText(row.model);
  if (model === null) return { ok: false, reason: 'missing_model' };

  const promptTokens = tokenCount(row.promptTokens);
  const completionTokens = tokenCount(row.completionTokens);
  if (promptTokens === undefined || completionTokens === undefined)
    return { ok: false, reason: 'invalid_token_counts' };
  const totalTokens =
    row.totalTokens === null ? promptTokens + completionTokens : tokenCount(row.totalTokens);
  if (totalTokens === undefined) return { ok: false, reason: 'invalid_token_counts' };

  const rawSource = sqliteText(row.source);
  let source: UsageSource = 'import';
  if (rawSource === 'ingest' || rawSource === 'legacy') source = rawSource;
  else meta.original_source = rawSource;

  const apiKeyId = row.apiKeyId === null ? undefined : sqliteInteger(row.apiKeyId);
  const apiKey = apiKeyId === undefined ? undefined : ctx.apiKeys.get(apiKeyId);
  if (apiKeyId !== undefined) {
    meta.api_key_id = apiKeyId;
    if (apiKey?.label) meta.api_key_label = apiKey.label;
  }
  const provider = (apiKey?.provider ?? ctx.defaultProvider).toLowerCase();

  const counts = plainTokenCounts(promptTokens, completionTokens, totalTokens);
  const priced = ctx.pricer.price({
    provider,
    model,
    atMs: ts,
    usage: counts,
    serviceTier: null,
    batch: false,
    completionWindow: null,
  });
  const cost = dollars(row.estimatedCostUsd);

  return {
    ok: true,
    naive: parsed !== undefined && (parsed.dateOnly || !ZONED.test(timestampText ?? '')),
    undated,
    unreadableCost: cost.unreadable,
    usage: {
      originalId: row.id,
      ts,
      receivedAt: ts,
      source,
      ingestTokenId: row.ingestTokenId === null ? null : (sqliteInteger(row.ingestTokenId) ?? null),
      eventId: sqliteText(row.eventId),
      provider,
      model,
      ...counts,
      serviceTier: null,
      batch: false,
      completionWindow: null,
      costNanoUsd: priced.costNanoUsd,
      pricingStatus: priced.status,
      pricingSource: priced.source,
      pricingRates: priced.rates ? JSON.stringify(priced.rates) : null,
      clientCostNanoUsd: cost.nano,
      meta: Object.keys(meta).length > 0 ? JSON.stringify({ original: meta }) : null,
      rawUsage: null,
    },
  };
}
