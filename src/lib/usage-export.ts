import type { UsageRow } from '../storage/store.js';
import { csvNumber, csvRow, csvText, UTF8_BOM } from './csv.js';
import { formatNanoUsd, nanoToUsd } from './money.js';
import { formatIsoTime } from './time.js';

/**
 * How a usage row looks outside the service: the JSON row of GET /data (the original's camelCase
 * fields first), and the CSV and JSON-lines exports. Pure, so the read worker can encode exports
 * off the main thread.
 */

export type ExportFormat = 'csv' | 'jsonl';

export function toApiRow(row: UsageRow) {
  return {
    id: row.id,
    timestamp: formatIsoTime(row.ts),
    model: row.model,
    promptTokens: row.promptTokens,
    completionTokens: row.completionTokens,
    totalTokens: row.totalTokens,
    estimatedCostUSD: row.costNanoUsd === null ? null : nanoToUsd(row.costNanoUsd),
    provider: row.provider,
    ingestTokenId: row.ingestTokenId,
    tokenLabel: row.tokenLabel,
    eventId: row.eventId,
    source: row.source,
    cachedTokens: row.cachedTokens,
    cacheWriteTokens: row.cacheWriteTokens,
    cacheWriteExtendedTokens: row.cacheWriteExtendedTokens,
    reasoningTokens: row.reasoningTokens,
    inputAudioTokens: row.inputAudioTokens,
    outputAudioTokens: row.outputAudioTokens,
    serviceTier: row.serviceTier,
    batch: row.batch,
    pricingStatus: row.pricingStatus,
    pricingSource: row.pricingSource,
    clientCostUSD: row.clientCostNanoUsd === null ? null : nanoToUsd(row.clientCostNanoUsd),
    user: row.user,
    tags: row.tags,
  };
}

/** The original's seven columns first (same names), then ours. */
export const CSV_HEADER = [
  'id',
  'timestamp',
  'model',
  'promptTokens',
  'completionTokens',
  'totalTokens',
  'estimatedCostUSD',
  'provider',
  'ingestTokenId',
  'tokenLabel',
  'eventId',
  'source',
  'cachedTokens',
  'cacheWriteTokens',
  'reasoningTokens',
  'inputAudioTokens',
  'outputAudioTokens',
  'serviceTier',
  'batch',
  'pricingStatus',
  'clientCostUSD',
  'user',
  'tags',
];

export function toCsvLine(row: UsageRow): string {
  return csvRow([
    csvNumber(row.id),
    csvText(formatIsoTime(row.ts)),
    csvText(row.model),
    csvNumber(row.promptTokens),
    csvNumber(row.completionTokens),
    csvNumber(row.totalTokens),
    row.costNanoUsd === null ? '' : formatNanoUsd(row.costNanoUsd),
    csvText(row.provider),
    csvNumber(row.ingestTokenId),
    csvText(row.tokenLabel),
    csvText(row.eventId),
    csvText(row.source),
    csvNumber(row.cachedTokens),
    csvNumber(row.cacheWriteTokens),
    csvNumber(row.reasoningTokens),
    csvNumber(row.inputAudioTokens),
    csvNumber(row.outputAudioTokens),
    csvText(row.serviceTier),
    row.batch ? 'true' : 'false',
    csvText(row.pricingStatus),
    row.clientCostNanoUsd === null ? '' : formatNanoUsd(row.clientCostNanoUsd),
    csvText(row.user),
    csvText(row.tags === null ? null : JSON.stringify(row.tags)),
  ]);
}

export type ApiUsageRow = ReturnType<typeof toApiRow>;

/** The text that starts an export (CSV: BOM and header line; JSONL: nothing). */
export function exportPreamble(format: ExportFormat): string {
  return format === 'csv' ? UTF8_BOM + csvRow(CSV_HEADER) : '';
}

/** One chunk of rows as export text. */
export function encodeRows(rows: readonly UsageRow[], format: ExportFormat): string {
  let text = '';
  if (format === 'csv') for (const row of rows) text += toCsvLine(row);
  else for (const row of rows) text += `${JSON.stringify(toApiRow(row))}\n`;
  return text;
}
