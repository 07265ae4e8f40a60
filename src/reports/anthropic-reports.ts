import type { ReportedCost, ReportedUsage } from '../storage/provider-reports.js';
import type { AdminClient } from './admin-client.js';
import { decimalToNano } from './report-money.js';
import { type CostPage, num, type ReportRange, str, type UsagePage } from './report-pages.js';

/**
 * Anthropic's Usage and Cost Admin API (admin key in x-api-key, anthropic-version 2023-06-01).
 * Shapes as published in Anthropic's API reference, "Get Messages Usage Report"
 * (GET /v1/organizations/usage_report/messages) and "Get Cost Report"
 * (GET /v1/organizations/cost_report): a page is {data:[bucket], has_more, next_page}; a bucket is
 * {starting_at, ending_at (RFC 3339), results:[...]}. Messages results carry uncached_input_tokens,
 * cache_read_input_tokens, cache_creation {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens},
 * output_tokens, server_tool_use, and the group_by[] fields (model, workspace_id, api_key_id,
 * service_tier, ...); there is no request count. Cost results carry amount (a decimal string in
 * CENTS: "123.45" is $1.2345), currency ("USD"), workspace_id and, grouped by description,
 * description, model, cost_type, token_type, service_tier, context_window. Daily buckets, up to
 * 31 a page.
 */

const USAGE_GROUPS = ['model', 'workspace_id', 'api_key_id', 'service_tier'];
const COST_GROUPS = ['workspace_id', 'description'];

type Json = Record<string, unknown>;
const asObject = (value: unknown): Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function query(range: ReportRange, groups: string[], page: string | null): URLSearchParams {
  const params = new URLSearchParams({
    starting_at: new Date(range.startMs).toISOString(),
    ending_at: new Date(range.endMs).toISOString(),
    bucket_width: '1d',
    limit: '31',
  });
  for (const group of groups) params.append('group_by[]', group);
  if (page) params.set('page', page);
  return params;
}

function buckets(page: Json) {
  return asList(page.data).map((raw) => {
    const bucket = asObject(raw);
    return {
      startMs: Date.parse(str(bucket.starting_at)),
      endMs: Date.parse(str(bucket.ending_at)),
      results: asList(bucket.results).map(asObject),
    };
  });
}

const nextPage = (page: Json): string | null =>
  page.has_more === true && typeof page.next_page === 'string' && page.next_page !== ''
    ? page.next_page
    : null;

/** Anthropic's input excludes cache reads and writes; ours includes them (as raw-usage.ts does). */
function usageRow(start: number, end: number, result: Json): ReportedUsage {
  const creation = asObject(result.cache_creation);
  const shortWrites = num(creation.ephemeral_5m_input_tokens);
  const longWrites = num(creation.ephemeral_1h_input_tokens);
  const cacheRead = num(result.cache_read_input_tokens);
  const tier = str(result.service_tier);
  return {
    provider: 'anthropic',
    report: 'messages',
    bucketStartMs: start,
    bucketEndMs: end,
    model: str(result.model),
    projectId: str(result.workspace_id),
    apiKeyId: str(result.api_key_id),
    serviceTier: tier,
    batch: tier === 'batch',
    requests: 0,
    promptTokens: num(result.uncached_input_tokens) + cacheRead + shortWrites + longWrites,
    completionTokens: num(result.output_tokens),
    cachedTokens: cacheRead,
    cacheWriteTokens: shortWrites + longWrites,
    cacheWriteExtendedTokens: longWrites,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    estimatedCostNanoUsd: null,
  };
}

export async function* anthropicUsagePages(get: AdminClient, range: ReportRange): AsyncGenerator<UsagePage> {
  let cursor: string | null = null;
  do {
    const page = asObject(
      await get('/v1/organizations/usage_report/messages', query(range, USAGE_GROUPS, cursor)),
    );
    const list = buckets(page).filter((b) => !Number.isNaN(b.startMs) && !Number.isNaN(b.endMs));
    yield {
      bucketStartsMs: list.map((b) => b.startMs),
      lastBucketEndMs: list.length > 0 ? Math.max(...list.map((b) => b.endMs)) : null,
      rows: list.flatMap((b) => b.results.map((result) => usageRow(b.startMs, b.endMs, result))),
    };
    cursor = nextPage(page);
  } while (cursor);
}

export async function* anthropicCostPages(get: AdminClient, range: ReportRange): AsyncGenerator<CostPage> {
  let cursor: string | null = null;
  do {
    const page = asObject(await get('/v1/organizations/cost_report', query(range, COST_GROUPS, cursor)));
    const list = buckets(page).filter((b) => !Number.isNaN(b.startMs) && !Number.isNaN(b.endMs));
    const rows: ReportedCost[] = [];
    for (const bucket of list) {
      for (const result of bucket.results) {
        const costNanoUsd = decimalToNano(result.amount, 10_000_000);
        const currency = str(result.currency).toLowerCase();
        if (costNanoUsd === null || (currency !== '' && currency !== 'usd')) continue;
        const lineItem = [result.description, result.service_tier, result.context_window, result.token_type]
          .map(str)
          .filter((part) => part !== '')
          .join(' | ');
        rows.push({
          provider: 'anthropic',
          bucketStartMs: bucket.startMs,
          bucketEndMs: bucket.endMs,
          projectId: str(result.workspace_id),
          apiKeyId: '',
          lineItem: lineItem || str(result.cost_type) || 'total',
          model: str(result.model).toLowerCase(),
          costNanoUsd,
        });
      }
    }
    yield {
      bucketStartsMs: list.map((b) => b.startMs),
      lastBucketEndMs: list.length > 0 ? Math.max(...list.map((b) => b.endMs)) : null,
      rows,
    };
    cursor = nextPage(page);
  } while (cursor);
}
