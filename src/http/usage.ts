import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import {
  type AnalyticsRange,
  createUsageAnalytics,
  MAX_BUCKETS,
  resolveRange,
} from '../analytics/usage-analytics.js';
import { AppError } from '../errors.js';
import { TAG_KEY } from '../ingest/record-schema.js';
import { groupCostUsd } from '../lib/money.js';
import { formatIsoTime } from '../lib/time.js';
import { type CalendarUnit, isValidTimeZone, Zone } from '../lib/zoned-time.js';
import type { UsageFilter } from '../storage/store.js';
import type { UsageGroupBy, UsageTotals } from '../storage/usage-aggregate.js';
import { parseUsageFilter } from '../usage-filter.js';
import { AttributionFilterQuery } from './analytics-filter.js';
import { UsageFilterQuery } from './data.js';
import type { HttpDeps } from './deps.js';
import { GroupCostUsd, responses } from './schemas.js';

/**
 * GET /usage/summary, /usage/timeseries, /usage/top, /usage/tags: the dashboard's analytics,
 * answered from the rollup tables (docs/analytics.md says when the raw rows are read instead).
 */

const CommonQuery = {
  ...UsageFilterQuery,
  ...AttributionFilterQuery,
  tz: Type.String({
    default: 'UTC',
    maxLength: 64,
    description:
      'IANA time zone for bucket boundaries and for date-only start/end (local midnight), e.g. Europe/Paris.',
  }),
};
const CommonQuerySchema = Type.Object(CommonQuery);
type CommonQueryValues = Static<typeof CommonQuerySchema>;

const GROUP_DESCRIPTION = 'model, token, provider, user, or tag:<key> (e.g. tag:team).';

const RangeBody = Type.Object({
  start: Type.String({ description: 'First instant counted, ISO-8601 UTC.' }),
  end: Type.String({ description: 'Last instant counted (inclusive, like /data), ISO-8601 UTC.' }),
});

const TotalsBody = Type.Object({
  requests: Type.Integer(),
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
  cached_tokens: Type.Integer(),
  cache_write_tokens: Type.Integer(),
  reasoning_tokens: Type.Integer(),
  input_audio_tokens: Type.Integer(),
  output_audio_tokens: Type.Integer(),
  cost_usd: GroupCostUsd(),
  unpriced_requests: Type.Integer({
    description: 'Requests whose model has no known price (not in cost_usd).',
  }),
});

const PointBody = Type.Object({
  t: Type.String({ description: 'Bucket start, ISO-8601 UTC.' }),
  requests: Type.Integer(),
  cost_usd: GroupCostUsd(),
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
  unpriced_requests: Type.Integer(),
});

const Source = Type.Union([Type.Literal('rollups'), Type.Literal('raw')], {
  description:
    'rollups: answered from pre-aggregated tables; raw: the filter needed a scan of the usage rows.',
});

const TopItemBody = Type.Object({
  key: Type.String({ description: 'Model, provider, token id, user or tag value; "" for rows without one.' }),
  label: Type.String({ description: 'For tokens, the token label.' }),
  requests: Type.Integer(),
  cost_usd: GroupCostUsd(),
  total_tokens: Type.Integer(),
  unpriced_requests: Type.Integer(),
});

export const TagsBody = Type.Object({
  keys: Type.Array(
    Type.Object({
      key: Type.String(),
      requests: Type.Integer({ description: 'Requests that carry this key.' }),
      distinct_values: Type.Integer({ description: 'Values with usage; more than `values` may list.' }),
      values: Type.Array(Type.Object({ value: Type.String(), requests: Type.Integer() }), {
        description: 'The most used values first.',
      }),
    }),
    { description: 'Tag keys with usage, the most used first.' },
  ),
});

/** The response bodies, exported so that the dashboard's types come from them (web/src/types.ts). */
export const SummaryBody = Type.Object({
  range: RangeBody,
  previous_range: RangeBody,
  current: TotalsBody,
  previous: TotalsBody,
  tz: Type.String(),
  source: Source,
});

export const TimeseriesBody = Type.Object({
  bucket: Type.String(),
  tz: Type.String(),
  group_by: Type.Union([Type.String(), Type.Null()]),
  range: RangeBody,
  series: Type.Array(
    Type.Object({
      key: Type.String({
        description: '"total" without group_by; "" for rows without the value.',
      }),
      label: Type.String(),
      requests: Type.Integer({ description: 'Over the range.' }),
      cost_usd: GroupCostUsd('Over the range: spend of the priced requests.'),
      unpriced_requests: Type.Integer({ description: 'Over the range.' }),
      points: Type.Array(PointBody),
    }),
  ),
  source: Source,
});

export const TopBody = Type.Object({
  by: Type.String(),
  range: RangeBody,
  items: Type.Array(TopItemBody),
  source: Source,
});

function toTotalsBody(totals: UsageTotals) {
  return {
    requests: totals.requests,
    prompt_tokens: totals.promptTokens,
    completion_tokens: totals.completionTokens,
    total_tokens: totals.totalTokens,
    cached_tokens: totals.cachedTokens,
    cache_write_tokens: totals.cacheWriteTokens,
    reasoning_tokens: totals.reasoningTokens,
    input_audio_tokens: totals.inputAudioTokens,
    output_audio_tokens: totals.outputAudioTokens,
    cost_usd: groupCostUsd(totals.costNanoUsd, totals.requests, totals.unpricedRequests),
    unpriced_requests: totals.unpricedRequests,
  };
}

/** A series' totals over the range, so that a legend never has to add up (and never shows $0 for unpriced). */
function seriesTotals(
  points: readonly { requests: number; costNanoUsd: number; unpricedRequests: number }[],
) {
  let requests = 0;
  let costNanoUsd = 0;
  let unpriced = 0;
  for (const point of points) {
    requests += point.requests;
    costNanoUsd += point.costNanoUsd;
    unpriced += point.unpricedRequests;
  }
  return {
    requests,
    cost_usd: groupCostUsd(costNanoUsd, requests, unpriced),
    unpriced_requests: unpriced,
  };
}

function toRangeBody(range: AnalyticsRange) {
  return { start: formatIsoTime(range.startMs), end: formatIsoTime(range.endMs - 1) };
}

const DATE_ONLY = /^\s*(\d{4})-(\d{2})-(\d{2})\s*$/;

/** A YYYY-MM-DD as the instant its local midnight happens in `zone` (plus `days`). */
function localMidnight(text: string, zone: Zone, days: number): number | undefined {
  const match = DATE_ONLY.exec(text);
  if (!match) return undefined;
  return zone.instantOf(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + days));
}

interface ParsedCommon {
  filter: UsageFilter;
  range: AnalyticsRange;
  zone: Zone;
}

/** Filters as /data parses them; date-only start/end are local days in `tz`. */
function parseCommon(query: CommonQueryValues, nowMs: number): ParsedCommon {
  if (!isValidTimeZone(query.tz)) {
    throw new AppError(
      'invalid_request',
      `tz must be an IANA time zone such as UTC or Europe/Paris (got "${query.tz.slice(0, 64)}")`,
    );
  }
  const zone = new Zone(query.tz);
  const filter = parseUsageFilter(query);
  let startMs = filter.startMs;
  let endMs = filter.endMs === undefined ? undefined : filter.endMs + 1;
  if (query.start) startMs = localMidnight(query.start, zone, 0) ?? startMs;
  if (query.end) endMs = localMidnight(query.end, zone, 1) ?? endMs;
  const range = resolveRange(startMs, endMs, nowMs);
  if (range.startMs >= range.endMs) {
    throw new AppError('invalid_request', 'Start date cannot be after end date.');
  }
  return { filter, range, zone };
}

function parseGroupBy(text: string, parameter: string): UsageGroupBy {
  if (text === 'model' || text === 'token' || text === 'provider' || text === 'user') return { kind: text };
  if (text.startsWith('tag:') && TAG_KEY.test(text.slice(4))) return { kind: 'tag', key: text.slice(4) };
  throw new AppError(
    'invalid_request',
    `${parameter} must be one of ${GROUP_DESCRIPTION} (got "${text.slice(0, 80)}")`,
  );
}

export function usageRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  const analytics = createUsageAnalytics({ store: deps.store, clock: deps.clock });
  return async (app) => {
    app.get(
      '/usage/summary',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Usage totals for a filter and range, and for the period of equal length before it',
          description: 'Without start/end: the last 30 days ending now.',
          tags: ['usage'],
          querystring: CommonQuerySchema,
          response: responses({
            200: SummaryBody,
          }),
        },
      },
      async (request) => {
        const { filter, range } = parseCommon(request.query, deps.clock.now());
        const summary = await analytics.summary({ filter, range });
        return {
          range: toRangeBody(summary.range),
          previous_range: toRangeBody(summary.previousRange),
          current: toTotalsBody(summary.current),
          previous: toTotalsBody(summary.previous),
          tz: request.query.tz,
          source: summary.source,
        };
      },
    );

    app.get(
      '/usage/timeseries',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Cost and tokens per time bucket, optionally one series per group',
          description: `Buckets are local to tz (weeks start on Monday); empty buckets are zeros. At most ${MAX_BUCKETS} buckets. Series are ranked by cost; those beyond limit are summed into one series with key "__other__".`,
          tags: ['usage'],
          querystring: Type.Object({
            ...CommonQuery,
            bucket: Type.Union(
              [Type.Literal('hour'), Type.Literal('day'), Type.Literal('week'), Type.Literal('month')],
              { default: 'day' },
            ),
            group_by: Type.Optional(Type.String({ maxLength: 70, description: GROUP_DESCRIPTION })),
            limit: Type.Integer({
              minimum: 1,
              maximum: 50,
              default: 10,
              description: 'Most series returned.',
            }),
          }),
          response: responses({
            200: TimeseriesBody,
          }),
        },
      },
      async (request) => {
        const { filter, range, zone } = parseCommon(request.query, deps.clock.now());
        const { bucket, limit } = request.query;
        const groupBy = request.query.group_by ? parseGroupBy(request.query.group_by, 'group_by') : null;
        const result = await analytics.timeseries({
          filter,
          range,
          zone,
          unit: bucket as CalendarUnit,
          groupBy,
          seriesLimit: limit,
        });
        if (!result.ok) {
          throw new AppError(
            'invalid_request',
            `The range has more than ${MAX_BUCKETS} ${bucket} buckets; choose a larger bucket or a shorter range.`,
          );
        }
        const times = result.value.bucketStarts.map(formatIsoTime);
        return {
          bucket,
          tz: request.query.tz,
          group_by: request.query.group_by || null,
          range: toRangeBody(range),
          series: result.value.series.map((series) => ({
            key: series.key,
            label: series.label,
            ...seriesTotals(series.points),
            points: series.points.map((point, i) => ({
              t: times[i] ?? '',
              requests: point.requests,
              cost_usd: groupCostUsd(point.costNanoUsd, point.requests, point.unpricedRequests),
              prompt_tokens: point.promptTokens,
              completion_tokens: point.completionTokens,
              total_tokens: point.totalTokens,
              unpriced_requests: point.unpricedRequests,
            })),
          })),
          source: result.value.source,
        };
      },
    );

    app.get(
      '/usage/tags',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Tag keys with usage and their most used values (for filters and group-by)',
          description:
            'All time, from the monthly rollups: cheap whatever the number of usage rows. Keys are ranked by requests, values by requests then value.',
          tags: ['usage'],
          querystring: Type.Object({
            values: Type.Integer({
              minimum: 1,
              maximum: 200,
              default: 20,
              description: 'Most values listed per key.',
            }),
          }),
          response: responses({ 200: TagsBody }),
        },
      },
      async (request) => {
        const keys = await deps.store.listTagValues(request.query.values);
        return {
          keys: keys.map((key) => ({
            key: key.key,
            requests: key.requests,
            distinct_values: key.distinctValues,
            values: key.values,
          })),
        };
      },
    );

    app.get(
      '/usage/top',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'The top tokens, models, providers, users or tag values by cost',
          tags: ['usage'],
          querystring: Type.Object({
            ...CommonQuery,
            by: Type.String({ maxLength: 70, description: GROUP_DESCRIPTION }),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
          }),
          response: responses({
            200: TopBody,
          }),
        },
      },
      async (request) => {
        const { filter, range } = parseCommon(request.query, deps.clock.now());
        const by = parseGroupBy(request.query.by, 'by');
        const top = await analytics.top({ filter, range, by, limit: request.query.limit });
        return {
          by: request.query.by,
          range: toRangeBody(range),
          items: top.items.map((item) => ({
            key: item.key,
            label: item.label,
            requests: item.totals.requests,
            cost_usd: groupCostUsd(
              item.totals.costNanoUsd,
              item.totals.requests,
              item.totals.unpricedRequests,
            ),
            total_tokens: item.totals.totalTokens,
            unpriced_requests: item.totals.unpricedRequests,
          })),
          source: top.source,
        };
      },
    );
  };
}
