import type { ReportedCost, ReportedUsage } from '../storage/provider-reports.js';
import type { AdminClient } from './admin-client.js';
import { decimalToNano } from './report-money.js';
import { type CostPage, num, type ReportRange, str, type UsagePage } from './report-pages.js';

/**
 * OpenAI's organization Usage and Costs APIs (admin key). Shapes as published in OpenAI's API
 * reference, "Usage" and "Costs" (GET /v1/organization/usage/completions, /usage/embeddings,
 * /costs), and in the openai-node SDK's resources/admin/organization/usage.ts (6.49.0): a page is
 * {object:"page", data:[bucket], has_more, next_page}; a bucket is {object:"bucket", start_time,
 * end_time (Unix seconds), results:[...]}; completions results carry input_tokens (INCLUDING
 * cached and cache-write tokens), input_cached_tokens, input_cache_write_tokens, output_tokens,
 * input_audio_tokens (uncached), input_cached_audio_tokens, output_audio_tokens,
 * num_model_requests and the group_by fields (model, project_id, api_key_id, batch, service_tier);
 * costs results carry amount {value (USD), currency} and project_id, api_key_id, line_item
 * ("gpt-4o-2024-08-06, input"). Arrays go as group_by[]=..., as the SDKs send them. Daily buckets:
 * up to 31 per usage page, 180 per costs page.
 */

const USAGE_GROUPS = ['model', 'project_id', 'api_key_id', 'batch', 'service_tier'];
const COST_GROUPS = ['project_id', 'line_item', 'api_key_id'];

type Json = Record<string, unknown>;
const asObject = (value: unknown): Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function query(range: ReportRange, groups: string[], limit: number, page: string | null): URLSearchParams {
  const params = new URLSearchParams({
    start_time: String(Math.floor(range.startMs / 1000)),
    end_time: String(Math.floor(range.endMs / 1000)),
    bucket_width: '1d',
    limit: String(limit),
  });
  for (const group of groups) params.append('group_by[]', group);
  if (page) params.set('page', page);
  return params;
}

/** The model a cost line is for: "gpt-4o-2024-08-06, input" names one, "Web search tool calls" does not. */
export function modelOfLineItem(lineItem: string): string {
  const comma = lineItem.indexOf(', ');
  if (comma <= 0) return '';
  const model = lineItem.slice(0, comma).trim();
  return /\s/.test(model) ? '' : model.toLowerCase();
}

function usageRow(
  report: 'completions' | 'embeddings',
  start: number,
  end: number,
  result: Json,
): ReportedUsage {
  const cachedAudio = num(result.input_cached_audio_tokens);
  return {
    provider: 'openai',
    report,
    bucketStartMs: start,
    bucketEndMs: end,
    model: str(result.model),
    projectId: str(result.project_id),
    apiKeyId: str(result.api_key_id),
    serviceTier: str(result.service_tier),
    batch: result.batch === true,
    requests: num(result.num_model_requests),
    promptTokens: num(result.input_tokens),
    completionTokens: num(result.output_tokens),
    cachedTokens: num(result.input_cached_tokens),
    cacheWriteTokens: num(result.input_cache_write_tokens),
    cacheWriteExtendedTokens: 0,
    inputAudioTokens: num(result.input_audio_tokens) + cachedAudio,
    outputAudioTokens: num(result.output_audio_tokens),
    estimatedCostNanoUsd: null,
  };
}

function buckets(page: Json) {
  return asList(page.data).map((raw) => {
    const bucket = asObject(raw);
    return {
      startMs: num(bucket.start_time) * 1000,
      endMs: num(bucket.end_time) * 1000,
      results: asList(bucket.results ?? bucket.result).map(asObject),
    };
  });
}

const nextPage = (page: Json): string | null =>
  page.has_more === true && typeof page.next_page === 'string' && page.next_page !== ''
    ? page.next_page
    : null;

export async function* openAiUsagePages(
  get: AdminClient,
  report: 'completions' | 'embeddings',
  range: ReportRange,
): AsyncGenerator<UsagePage> {
  let cursor: string | null = null;
  do {
    const page = asObject(await get(`/organization/usage/${report}`, query(range, USAGE_GROUPS, 31, cursor)));
    const list = buckets(page);
    yield {
      bucketStartsMs: list.map((b) => b.startMs),
      lastBucketEndMs: list.length > 0 ? Math.max(...list.map((b) => b.endMs)) : null,
      rows: list.flatMap((b) => b.results.map((result) => usageRow(report, b.startMs, b.endMs, result))),
    };
    cursor = nextPage(page);
  } while (cursor);
}

export async function* openAiCostPages(get: AdminClient, range: ReportRange): AsyncGenerator<CostPage> {
  let cursor: string | null = null;
  do {
    const page = asObject(await get('/organization/costs', query(range, COST_GROUPS, 180, cursor)));
    const list = buckets(page);
    const rows: ReportedCost[] = [];
    for (const bucket of list) {
      for (const result of bucket.results) {
        const amount = asObject(result.amount);
        const currency = str(amount.currency).toLowerCase();
        const costNanoUsd = decimalToNano(amount.value, 1_000_000_000);
        // Only US dollars can be compared with our prices; another currency is left out.
        if (costNanoUsd === null || (currency !== '' && currency !== 'usd')) continue;
        const lineItem = str(result.line_item);
        rows.push({
          provider: 'openai',
          bucketStartMs: bucket.startMs,
          bucketEndMs: bucket.endMs,
          projectId: str(result.project_id),
          apiKeyId: str(result.api_key_id),
          lineItem,
          model: modelOfLineItem(lineItem),
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
