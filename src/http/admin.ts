import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { groupCostUsd } from '../lib/money.js';
import { formatIsoTime } from '../lib/time.js';
import type { ModelPricing } from '../repricing/price-book.js';
import type { HttpDeps } from './deps.js';
import { EXAMPLES, withExamples } from './request-examples.js';
import { GroupCostUsd, responses } from './schemas.js';

const Latency = Type.Record(
  Type.String(),
  Type.Object({
    count: Type.Integer(),
    mean_ms: Type.Number(),
    p50_ms: Type.Optional(Type.Number()),
    p95_ms: Type.Optional(Type.Number()),
  }),
);

const RefusedCount = (description: string) => Type.Integer({ minimum: 0, description });

export const MetricsBody = Type.Object({
  version: Type.String(),
  env: Type.String(),
  debug: Type.Boolean(),
  rate_limit: Type.Object({
    rpm: Type.Integer(),
    burst: Type.Integer(),
    regen_rate: Type.Number({ description: 'Tokens per second.' }),
    exempt_paths: Type.Array(Type.String()),
    ingest: Type.Object({ rpm: Type.Integer(), burst: Type.Integer(), regen_rate: Type.Number() }),
  }),
  ingest: Type.Object({
    rpm: Type.Integer(),
    burst: Type.Integer(),
    auth_enabled: Type.Boolean(),
    tracking_token_length: Type.Integer(),
  }),
  counters: Type.Object({
    rate_limit_hits: Type.Integer(),
    ingest_success: Type.Integer(),
    ingest_duplicate: Type.Integer(),
    ingest_bad_auth: Type.Integer(),
    ingest_validation_error: Type.Integer(),
    ingest_unknown_token: Type.Integer(),
    ingest_inactive_token: Type.Integer(),
    ingest_rate_limited: Type.Integer(),
    latency: Latency,
    http_status: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer())),
  }),
  write_batches: Type.Object({
    commits: Type.Integer(),
    records: Type.Integer(),
    mean_records: Type.Number(),
    max_records: Type.Integer(),
    mean_commit_ms: Type.Number(),
  }),
  db: Type.Object({
    usage_rows: Type.Integer(),
    active_tokens: Type.Integer(),
    last_usage_at: Type.Union([Type.String(), Type.Null()]),
    last_token_seen_at: Type.Union([Type.String(), Type.Null()]),
  }),
  ingestion_health: Type.Object({
    tokens_seen_1m: Type.Integer(),
    tokens_seen_5m: Type.Integer(),
    tokens_seen_1h: Type.Integer(),
  }),
  ingest_refusals: Type.Object(
    {
      rate_limited_last_hour: Type.Integer({
        minimum: 0,
        description: 'Ingest records refused by the per-token rate limit in the last hour (this process).',
      }),
      last_rate_limited_at: Type.Union([Type.String(), Type.Null()], {
        description: 'When the last record was refused by the rate limit; null if none since start.',
      }),
      last_token_label: Type.Union([Type.String(), Type.Null()], {
        description: 'Label of the tracking token whose record was refused last.',
      }),
      refused_last_hour: Type.Object(
        {
          rate_limited: RefusedCount('Refused by the per-token rate limit (INGEST_RPM, INGEST_BURST).'),
          validation_error: RefusedCount('Invalid records (the reason is in each record result).'),
          unknown_token: RefusedCount('Sent with a tracking token the service does not know.'),
          inactive_token: RefusedCount('Sent with a deactivated tracking token.'),
        },
        { description: 'Ingest records refused in the last hour, by reason (this process).' },
      ),
    },
    { description: 'Usage lost to refused ingest records, for the dashboard warning.' },
  ),
});

const LegacyLogBody = Type.Object(
  {
    timestamp: Type.Optional(Type.String({ maxLength: 64 })),
    model: Type.String({ maxLength: 200 }),
    promptTokens: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000_000 })),
    completionTokens: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000_000 })),
    totalTokens: Type.Optional(Type.Integer({ minimum: 0, maximum: 20_000_000_000 })),
    estimatedCostUSD: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: true },
);

const iso = (ms: number | null) => (ms === null ? null : formatIsoTime(ms));

const ModelsBody = Type.Object({
  models: Type.Array(Type.String(), {
    description: 'Distinct models with usage, ascending (the original shape).',
  }),
  details: Type.Optional(
    Type.Array(
      Type.Object({
        provider: Type.String(),
        model: Type.String(),
        requests: Type.Integer(),
        unpriced_requests: Type.Integer({
          description: 'Stored with no cost; POST /prices/reprice once priced.',
        }),
        estimated_requests: Type.Integer(),
        cost_usd: GroupCostUsd('Sum of the priced and estimated rows.'),
        last_at: Type.String(),
        priced_now: Type.Boolean({ description: 'A price exists now for this provider and model.' }),
        price_source: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
  ),
});

function toModelDetail(detail: ModelPricing) {
  return {
    provider: detail.provider,
    model: detail.model,
    requests: detail.requests,
    unpriced_requests: detail.unpricedRequests,
    estimated_requests: detail.estimatedRequests,
    cost_usd: groupCostUsd(detail.costNanoUsd, detail.requests, detail.unpricedRequests),
    last_at: formatIsoTime(detail.lastAt),
    priced_now: detail.pricedNow,
    price_source: detail.priceSource,
  };
}

export function adminRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  const { config, metrics } = deps;
  return async (app) => {
    app.get(
      '/models',
      {
        config: { auth: 'admin' },
        schema: {
          summary:
            'Models that have usage; with details=true, their unpriced usage and whether they have a price now',
          tags: ['usage'],
          querystring: Type.Object({
            details: Type.Boolean({
              default: false,
              description:
                'Add per (provider, model) usage, unpriced counts and price status (scans all usage).',
            }),
          }),
          response: responses({ 200: ModelsBody }),
        },
      },
      async (request) => {
        if (!request.query.details) return { models: await deps.store.listModels() };
        const [models, details] = await Promise.all([deps.store.listModels(), deps.prices.modelPricing()]);
        return { models, details: details.map(toModelDetail) };
      },
    );

    app.delete(
      '/reset',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Delete every usage row (tracking tokens are kept)',
          tags: ['usage'],
          response: responses({ 200: Type.Object({ message: Type.String(), deleted: Type.Integer() }) }),
        },
      },
      async (request) => {
        const deleted = await deps.store.resetUsage();
        request.log.warn({ deleted }, 'usage data reset');
        return { message: 'Database reset successfully', deleted };
      },
    );

    app.get(
      '/metrics',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Operational counters (JSON)',
          tags: ['operations'],
          response: responses({ 200: MetricsBody }),
        },
      },
      async () => {
        const nowMs = deps.clock.now();
        const stats = await deps.store.stats(nowMs);
        const { commits } = metrics;
        const refusals = metrics.ingestRefusals.summary(nowMs);
        return {
          version: '1',
          env: config.mode,
          debug: false,
          rate_limit: {
            rpm: config.rateLimit.ratePerMinute,
            burst: config.rateLimit.burst,
            regen_rate: config.rateLimit.ratePerMinute / 60,
            exempt_paths: [...config.rateLimit.exemptPaths],
            ingest: {
              rpm: config.ingestRateLimit.ratePerMinute,
              burst: config.ingestRateLimit.burst,
              regen_rate: config.ingestRateLimit.ratePerMinute / 60,
            },
          },
          ingest: {
            rpm: config.ingestRateLimit.ratePerMinute,
            burst: config.ingestRateLimit.burst,
            auth_enabled: config.ingestKey !== undefined,
            tracking_token_length: config.trackingTokenLength,
          },
          counters: {
            rate_limit_hits: metrics.rateLimitHits,
            ingest_success: metrics.ingest.success,
            ingest_duplicate: metrics.ingest.duplicate,
            ingest_bad_auth: metrics.ingest.bad_auth,
            ingest_validation_error: metrics.ingest.validation_error,
            ingest_unknown_token: metrics.ingest.unknown_token,
            ingest_inactive_token: metrics.ingest.inactive_token,
            ingest_rate_limited: metrics.ingest.rate_limited,
            latency: metrics.latencySummary(),
            http_status: metrics.statusSummary(),
          },
          write_batches: {
            commits: commits.count,
            records: commits.records,
            mean_records: commits.count === 0 ? 0 : commits.records / commits.count,
            max_records: commits.maxRecords,
            mean_commit_ms: commits.count === 0 ? 0 : commits.totalMs / commits.count,
          },
          db: {
            usage_rows: stats.usageRows,
            active_tokens: stats.activeTokens,
            last_usage_at: iso(stats.lastUsageAt),
            last_token_seen_at: iso(stats.lastTokenSeenAt),
          },
          ingestion_health: {
            tokens_seen_1m: stats.tokensSeenLastMinute,
            tokens_seen_5m: stats.tokensSeenLast5Minutes,
            tokens_seen_1h: stats.tokensSeenLastHour,
          },
          ingest_refusals: {
            rate_limited_last_hour: refusals.lastHour.rate_limited,
            last_rate_limited_at: iso(refusals.lastRateLimitedAtMs),
            last_token_label: refusals.lastRateLimitedTokenLabel,
            refused_last_hour: refusals.lastHour,
          },
        };
      },
    );

    app.post(
      '/log',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Deprecated: record a token-less usage row (use POST /ingest)',
          tags: ['deprecated'],
          deprecated: true,
          body: withExamples(LegacyLogBody, EXAMPLES.legacyLog),
          response: responses({
            200: Type.Object({ message: Type.String(), warning: Type.String(), id: Type.Integer() }),
          }),
        },
      },
      async (request, reply) => {
        const { id } = await deps.ingest.ingestLegacy(request.body);
        reply.header('deprecation', 'true').header('link', '</ingest>; rel="successor-version"');
        return {
          message: 'Data logged successfully',
          warning: 'DEPRECATED: POST /log will be removed; send usage to POST /ingest with a tracking token',
          id,
        };
      },
    );
  };
}
