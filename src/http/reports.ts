import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { nanoToUsd } from '../lib/money.js';
import { formatIsoTime } from '../lib/time.js';
import { DAY_MS, dayOf, reconcile, startOfDay } from '../reports/reconcile.js';
import { reportSpend } from '../reports/report-spend.js';
import type { ReportProvider } from '../storage/provider-reports.js';
import type { HttpDeps } from './deps.js';
import { EXAMPLES, withExamples } from './request-examples.js';
import { responses } from './schemas.js';

/**
 * Provider reports (docs/provider-reports.md): sync status and a pull on demand, zero-code spend
 * from the reports alone, reconciliation against pushed usage, and provider projects mapped to
 * tracking tokens. Nothing here ever answers with an admin key: status says only whether one is set.
 */

const MAX_DAYS = 366;
const DEFAULT_DAYS = 30;

const Provider = Type.Union([Type.Literal('openai'), Type.Literal('anthropic')]);
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'UTC day, YYYY-MM-DD.' });
const RangeQuery = {
  start: Type.Optional({ ...Day, description: 'First UTC day (default: 30 days before end).' }),
  end: Type.Optional({ ...Day, description: 'Last UTC day, included (default: today).' }),
  provider: Type.Optional(Provider),
};

function dayRange(nowMs: number, query: { start?: string; end?: string }) {
  const endMs = query.end ? Date.parse(`${query.end}T00:00:00Z`) + DAY_MS : startOfDay(nowMs) + DAY_MS;
  const startMs = query.start ? Date.parse(`${query.start}T00:00:00Z`) : endMs - DEFAULT_DAYS * DAY_MS;
  if (Number.isNaN(startMs) || Number.isNaN(endMs))
    throw new AppError('invalid_request', 'start and end must be real dates');
  if (startMs >= endMs) throw new AppError('invalid_request', 'start must be on or before end');
  if (endMs - startMs > MAX_DAYS * DAY_MS)
    throw new AppError('invalid_request', `the range may span at most ${MAX_DAYS} days`);
  return { startMs, endMs };
}

const usd = (nano: number) => nanoToUsd(nano);
const iso = (ms: number | null) => (ms === null ? null : formatIsoTime(ms));

const Side = Type.Object({
  requests: Type.Integer(),
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  cost_usd: Type.Number(),
});

export const ReportStatusBody = Type.Object({
  providers: Type.Array(Type.Object({ provider: Provider, configured: Type.Boolean() })),
  reports: Type.Array(
    Type.Object({
      provider: Type.String(),
      report: Type.String(),
      synced_through: Type.Union([Type.String(), Type.Null()]),
      last_run_at: Type.Union([Type.String(), Type.Null()]),
      last_success_at: Type.Union([Type.String(), Type.Null()]),
      last_error: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  sync_interval_minutes: Type.Integer(),
  backfill_days: Type.Integer(),
  drift_alert_percent: Type.Number(),
  drift_alert_min_usd: Type.Number(),
});

export const SpendBody = Type.Object({
  start: Type.String(),
  end: Type.String(),
  group: Type.String(),
  rows: Type.Array(
    Type.Object({
      key: Type.String({
        description: "The day, model, project or key id; '' when the report names none.",
      }),
      provider: Provider,
      requests: Type.Integer(),
      prompt_tokens: Type.Integer(),
      completion_tokens: Type.Integer(),
      cached_tokens: Type.Integer(),
      reported_cost_usd: Type.Number({ description: "The provider's cost report." }),
      estimated_cost_usd: Type.Number({ description: 'The usage report at our prices.' }),
      unpriced_buckets: Type.Integer(),
    }),
  ),
});

export const ReconciliationBody = Type.Object({
  start: Type.String(),
  end: Type.String(),
  drift_alert_percent: Type.Number(),
  drift_alert_min_usd: Type.Number(),
  rows: Type.Array(
    Type.Object({
      day: Type.String(),
      provider: Provider,
      model: Type.String(),
      project_id: Type.Union([Type.String(), Type.Null()]),
      ingest_token_id: Type.Union([Type.Integer(), Type.Null()]),
      pushed: Side,
      reported: Type.Object({
        ...Side.properties,
        cost_source: Type.Union([Type.Literal('reported'), Type.Literal('estimated'), Type.Literal('none')]),
      }),
      drift_tokens: Type.Integer(),
      drift_tokens_percent: Type.Union([Type.Number(), Type.Null()]),
      drift_usd: Type.Number(),
      drift_percent: Type.Union([Type.Number(), Type.Null()]),
      alert: Type.Boolean(),
    }),
  ),
});

export function reportRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  const settings = deps.config.providerReports;
  const thresholds = {
    drift_alert_percent: settings.driftAlertPercent,
    drift_alert_min_usd: usd(settings.driftAlertMinNanoUsd),
  };
  return async (app) => {
    app.get(
      '/reports/status',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Provider report pulls: which providers are configured and where each report got to',
          tags: ['reports'],
          response: responses({
            200: ReportStatusBody,
          }),
        },
      },
      async () => ({
        providers: (['openai', 'anthropic'] as const).map((provider) => ({
          provider,
          configured: deps.reports.providers.includes(provider),
        })),
        reports: (await deps.store.reports.listSyncStates()).map((state) => ({
          provider: state.provider,
          report: state.report,
          synced_through: iso(state.syncedThroughMs),
          last_run_at: iso(state.lastRunAt),
          last_success_at: iso(state.lastSuccessAt),
          last_error: state.lastError,
        })),
        sync_interval_minutes: settings.syncIntervalMs / 60_000,
        backfill_days: settings.backfillDays,
        ...thresholds,
      }),
    );

    app.post(
      '/reports/sync',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Pull the provider reports now (incremental; joins a pull already running)',
          tags: ['reports'],
          body: Type.Optional(withExamples(Type.Object({}), EXAMPLES.syncReports)),
          response: responses({
            200: Type.Object({
              jobs: Type.Array(
                Type.Object({
                  provider: Type.String(),
                  report: Type.String(),
                  pages: Type.Integer(),
                  rows: Type.Integer(),
                  error: Type.Union([Type.String(), Type.Null()]),
                }),
              ),
              drift_alerts: Type.Integer(),
              duration_ms: Type.Integer(),
            }),
          }),
        },
      },
      async () => {
        if (deps.reports.providers.length === 0)
          throw new AppError(
            'conflict',
            'No provider admin key is configured: set OPENAI_ADMIN_KEY or ANTHROPIC_ADMIN_KEY',
          );
        const summary = await deps.reports.syncNow();
        return {
          jobs: summary.jobs,
          drift_alerts: summary.driftAlerts,
          duration_ms: Math.max(0, summary.finishedAt - summary.startedAt),
        };
      },
    );

    app.get(
      '/reports/spend',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Spend from the provider reports alone (zero-code), per day, model, project or API key',
          tags: ['reports'],
          querystring: Type.Object({
            ...RangeQuery,
            group: Type.Optional(
              Type.Union([
                Type.Literal('day'),
                Type.Literal('model'),
                Type.Literal('project'),
                Type.Literal('api_key'),
              ]),
            ),
          }),
          response: responses({
            200: SpendBody,
          }),
        },
      },
      async (request) => {
        const range = dayRange(deps.clock.now(), request.query);
        const group = request.query.group ?? 'day';
        const rows = await reportSpend(
          deps.store.reports,
          { ...range, provider: request.query.provider },
          group,
        );
        return {
          start: dayOf(range.startMs),
          end: dayOf(range.endMs - DAY_MS),
          group,
          rows: rows.map((row) => ({
            key: row.key,
            provider: row.provider,
            requests: row.requests,
            prompt_tokens: row.promptTokens,
            completion_tokens: row.completionTokens,
            cached_tokens: row.cachedTokens,
            reported_cost_usd: usd(row.reportedCostNanoUsd),
            estimated_cost_usd: usd(row.estimatedCostNanoUsd),
            unpriced_buckets: row.unpricedBuckets,
          })),
        };
      },
    );

    app.get(
      '/reports/reconciliation',
      {
        config: { auth: 'admin' },
        schema: {
          summary:
            'Pushed usage against provider-reported usage and cost, per day and model (and mapped project)',
          description:
            'drift = reported - pushed; drift_percent is a share of the reported amount (null when it is 0). alert is true when the cost drift is past both DRIFT_ALERT_PERCENT and DRIFT_ALERT_MIN_USD.',
          tags: ['reports'],
          querystring: Type.Object(RangeQuery),
          response: responses({
            200: ReconciliationBody,
          }),
        },
      },
      async (request) => {
        const range = dayRange(deps.clock.now(), request.query);
        const rows = await reconcile({ store: deps.store }, { ...range, provider: request.query.provider });
        const side = (s: {
          requests: number;
          promptTokens: number;
          completionTokens: number;
          costNanoUsd: number;
        }) => ({
          requests: s.requests,
          prompt_tokens: s.promptTokens,
          completion_tokens: s.completionTokens,
          cost_usd: usd(s.costNanoUsd),
        });
        return {
          start: dayOf(range.startMs),
          end: dayOf(range.endMs - DAY_MS),
          ...thresholds,
          rows: rows.map((row) => ({
            day: row.day,
            provider: row.provider,
            model: row.model,
            project_id: row.projectId,
            ingest_token_id: row.ingestTokenId,
            pushed: side(row.pushed),
            reported: { ...side(row.reported), cost_source: row.reported.costSource },
            drift_tokens: row.driftTokens,
            drift_tokens_percent: row.driftTokensPercent,
            drift_usd: usd(row.driftNanoUsd),
            drift_percent: row.driftPercent,
            alert:
              row.reported.costSource !== 'none' &&
              Math.abs(row.driftNanoUsd) >= settings.driftAlertMinNanoUsd &&
              (row.driftPercent === null || Math.abs(row.driftPercent) >= settings.driftAlertPercent),
          })),
        };
      },
    );

    const Mapping = Type.Object({
      provider: Provider,
      project_id: Type.String(),
      ingest_token_id: Type.Integer(),
    });

    app.get(
      '/reports/projects',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Provider projects (OpenAI projects, Anthropic workspaces) mapped to tracking tokens',
          tags: ['reports'],
          response: responses({ 200: Type.Object({ mappings: Type.Array(Mapping) }) }),
        },
      },
      async () => ({
        mappings: (await deps.store.reports.listProjectTokens()).map((m) => ({
          provider: m.provider,
          project_id: m.projectId,
          ingest_token_id: m.ingestTokenId,
        })),
      }),
    );

    app.put(
      '/reports/projects/:provider/:project_id',
      {
        config: { auth: 'admin' },
        schema: {
          summary:
            'Attribute a provider project to a tracking token (null removes it), for per-project reconciliation',
          tags: ['reports'],
          params: Type.Object({
            provider: Provider,
            project_id: Type.String({ minLength: 1, maxLength: 200 }),
          }),
          body: withExamples(
            Type.Object({ ingest_token_id: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]) }),
            EXAMPLES.mapReportProject,
          ),
          response: responses({ 200: Type.Object({ ok: Type.Literal(true) }) }),
        },
      },
      async (request) => {
        const { provider, project_id: projectId } = request.params;
        const tokenId = request.body.ingest_token_id;
        if (tokenId !== null && !(await deps.store.listTokens()).some((token) => token.id === tokenId))
          throw new AppError('not_found', `No tracking token with id ${tokenId}`);
        await deps.store.reports.setProjectToken(provider as ReportProvider, projectId, tokenId);
        return { ok: true as const };
      },
    );
  };
}
