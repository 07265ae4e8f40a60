import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, type TSchema, Type } from 'typebox';
import { parsePayload } from '../budgets/alert-events.js';
import { alertText } from '../budgets/alert-messages.js';
import { type AlertSettingsBody, toSettingsBody } from '../budgets/alert-settings.js';
import {
  type BudgetInputBody,
  MAX_LIMIT_USD,
  MAX_ROLLING_HOURS,
  parseBudgetInput,
} from '../budgets/budget-input.js';
import type { BudgetDetail, BudgetView } from '../budgets/budget-service.js';
import { describeScope } from '../budgets/scope.js';
import { verdictFor, warnAmount } from '../budgets/verdict.js';
import { describeWindow } from '../budgets/window.js';
import { AppError } from '../errors.js';
import { nanoToUsd } from '../lib/money.js';
import { formatIsoTime } from '../lib/time.js';
import type {
  AlertChannel,
  AlertEvent,
  Budget,
  BudgetVerdict,
  DeliveryLogEntry,
  NewAlertChannel,
} from '../storage/store.js';
import type { HttpDeps } from './deps.js';
import { EXAMPLES, withExamples } from './request-examples.js';
import { IdParams, OkBody, responses } from './schemas.js';

/**
 * /budgets: budgets with their current window and forecast, alert channels, the delivery log and
 * the alert settings (docs/budgets.md). Also the verdict body of the ingest answer.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Verdict = Type.Union([Type.Literal('ok'), Type.Literal('warn'), Type.Literal('exceeded')], {
  description:
    'ok; warn from the highest threshold below 100 % (80 % by default); exceeded from the limit itself.',
});

/** A budget's state in the ingest answer (POST /ingest, each item of /ingest/batch). */
export const BudgetVerdictBody = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  spent_usd: Type.Number({ description: 'Priced spend in the current window, this record included.' }),
  limit_usd: Type.Number(),
  remaining_usd: Type.Number({ description: 'limit_usd - spent_usd (negative once over).' }),
  verdict: Verdict,
  window_end: Type.String({ description: 'When the current window ends (exclusive), ISO-8601 UTC.' }),
  unpriced_requests: Type.Integer({ description: 'Requests in the window whose model has no price.' }),
});

/**
 * Window ends repeat for every record of a window, and formatting an instant costs about a
 * microsecond when it is not on the last day formatted: each ingest answer carries several.
 */
const windowEnds = new Map<number, string>();
function windowEnd(ms: number): string {
  let text = windowEnds.get(ms);
  if (text === undefined) {
    if (windowEnds.size >= 1024) windowEnds.clear();
    text = formatIsoTime(ms);
    windowEnds.set(ms, text);
  }
  return text;
}

export function toVerdictBodies(
  verdicts: readonly BudgetVerdict[] | undefined,
): Static<typeof BudgetVerdictBody>[] {
  if (!verdicts) return [];
  return verdicts.map((v) => ({
    id: v.budgetId,
    name: v.name,
    spent_usd: nanoToUsd(v.spentNanoUsd),
    limit_usd: nanoToUsd(v.limitNanoUsd),
    remaining_usd: nanoToUsd(v.limitNanoUsd - v.spentNanoUsd),
    verdict: v.verdict,
    window_end: windowEnd(v.windowEndMs),
    unpriced_requests: v.unpricedRequests,
  }));
}

const WindowBody = Type.Union(
  [
    Type.Object(
      {
        kind: Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month')], {
          description: 'A calendar day, ISO week (from Monday) or month in tz.',
        }),
        tz: Type.Optional(Type.String({ maxLength: 64, description: 'IANA time zone; default UTC.' })),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('rolling', { description: 'The last N whole hours, the current one included.' }),
        hours: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ROLLING_HOURS })),
        days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ROLLING_HOURS / 24 })),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'Exactly one of the two shapes.' },
);

const ScopeBody = Type.Object(
  {
    token_id: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    model: Type.Optional(
      Type.String({ maxLength: 201, description: 'Exact model, or a prefix ending in *, e.g. gpt-4o*.' }),
    ),
    provider: Type.Optional(Type.String({ maxLength: 64 })),
    user: Type.Optional(Type.String({ maxLength: 256, description: 'End-user id.' })),
    tags: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 200 }), {
        description: 'Rows must carry every one of these tags, e.g. {"team":"search"}.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Every field given must match; none means all usage.' },
);

const budgetFields = {
  name: Type.String({ maxLength: 100 }),
  limit_usd: Type.Number({ exclusiveMinimum: 0, maximum: MAX_LIMIT_USD }),
  window: WindowBody,
  scope: Type.Optional(ScopeBody),
  thresholds: Type.Optional(
    Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 1000 }), {
      minItems: 0,
      maxItems: 10,
      description: 'Alert at these percentages of the limit; default [50, 80, 100].',
    }),
  ),
  forecast_alert: Type.Optional(
    Type.Boolean({ description: 'Also alert once a window when the forecast ends above the limit.' }),
  ),
  channel_ids: Type.Optional(
    Nullable(
      Type.Array(Type.Integer({ minimum: 1 }), {
        maxItems: 50,
        description: 'null or absent: every channel.',
      }),
    ),
  ),
};
const BudgetInput = Type.Object(budgetFields, { additionalProperties: false });
const BudgetPatch = Type.Partial(Type.Object(budgetFields), { additionalProperties: false });

const ForecastBody = Type.Object({
  at: Type.String({
    description: 'The instant projected: the window end (rolling: one window length ahead).',
  }),
  projected_usd: Type.Number(),
  low_usd: Type.Number({ description: 'Lower end of the 90 % range.' }),
  high_usd: Type.Number({ description: 'Upper end of the 90 % range.' }),
  limit_reached_at: Nullable(
    Type.String({
      description: 'When the projection reaches the limit (or when it was reached); null: not by `at`.',
    }),
  ),
  hourly_rate_usd: Type.Number({ description: 'Spend of an average hour now.' }),
  season: Type.String({
    description: 'hour-of-week, hour-of-day or none: the seasonality the history allowed.',
  }),
  method: Type.Literal('seasonal-trailing-rate'),
});

export const BudgetBody = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  limit_usd: Type.Number(),
  window: Type.Object({
    kind: Type.String(),
    tz: Type.Optional(Type.String()),
    hours: Type.Optional(Type.Integer()),
  }),
  window_label: Type.String(),
  scope: ScopeBody,
  scope_label: Type.String(),
  thresholds: Type.Array(Type.Number()),
  forecast_alert: Type.Boolean(),
  channel_ids: Nullable(Type.Array(Type.Integer())),
  created_at: Type.String(),
  updated_at: Type.String(),
  counted: Type.Boolean({ description: 'False while the current window is still being counted.' }),
  current: Type.Object({
    start: Type.String(),
    end: Type.String(),
    spent_usd: Type.Number(),
    remaining_usd: Type.Number(),
    percent_used: Type.Number(),
    requests: Type.Integer(),
    unpriced_requests: Type.Integer({
      description: 'Requests with no price: not in spent_usd, and not free.',
    }),
    verdict: Verdict,
  }),
  forecast: Nullable(ForecastBody),
});

export const BudgetDetailBody = Type.Object({
  ...BudgetBody.properties,
  hours: Type.Array(
    Type.Object({ t: Type.String(), cost_usd: Type.Number(), unpriced_requests: Type.Integer() }),
    { description: 'Spend per hour of the current window, up to now.' },
  ),
  projection: Type.Array(
    Type.Object({
      t: Type.String(),
      projected_usd: Type.Number(),
      low_usd: Type.Number(),
      high_usd: Type.Number(),
    }),
    { description: 'The forecast per hour to `forecast.at`: cumulative spend of the window.' },
  ),
});

export const ChannelBody = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: Type.Union([Type.Literal('webhook'), Type.Literal('slack')]),
  url: Type.String(),
  secret: Nullable(Type.String({ description: 'The webhook signing key (HMAC-SHA256).' })),
  enabled: Type.Boolean(),
  created_at: Type.String(),
});

const AlertKind = Type.String({ description: 'threshold, forecast, anomaly, unpriced, drift or test.' });

export const AlertBody = Type.Object({
  id: Type.Integer(),
  kind: AlertKind,
  budget_id: Nullable(Type.Integer()),
  created_at: Type.String(),
  text: Type.String(),
});

export const DeliveryBody = Type.Object({
  id: Type.Integer(),
  alert: AlertBody,
  channel: Type.Object({
    id: Type.Integer(),
    name: Nullable(Type.String({ description: 'null once the channel was deleted.' })),
    kind: Nullable(Type.String()),
  }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  next_attempt_at: Nullable(Type.String()),
  last_attempt_at: Nullable(Type.String()),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  delivered_at: Nullable(Type.String()),
  created_at: Type.String(),
});

export const AlertSettingsSchema = Type.Object(
  {
    anomaly: Type.Object(
      {
        enabled: Type.Boolean(),
        sensitivity: Type.Number({ minimum: 1, maximum: 50, description: 'Robust standard deviations.' }),
        min_hourly_usd: Type.Number({ minimum: 0, maximum: 1_000_000 }),
        baseline_weeks: Type.Integer({ minimum: 1, maximum: 12 }),
      },
      { additionalProperties: false },
    ),
    unpriced: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
const AlertSettingsPatch = Type.Object(
  {
    anomaly: Type.Optional(
      Type.Partial(AlertSettingsSchema.properties.anomaly, { additionalProperties: false }),
    ),
    unpriced: Type.Optional(
      Type.Partial(AlertSettingsSchema.properties.unpriced, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

const ChannelInput = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    kind: Type.Union([Type.Literal('webhook'), Type.Literal('slack')]),
    url: Type.String({ maxLength: 2000, description: 'http(s) URL the alerts are POSTed to.' }),
    secret: Type.Optional(
      Type.String({
        minLength: 16,
        maxLength: 200,
        description: 'Webhook signing key; generated when absent.',
      }),
    ),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const ChannelPatch = Type.Partial(ChannelInput, { additionalProperties: false });

const PageQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  before: Type.Optional(
    Type.Integer({ minimum: 1, description: 'Only entries with a smaller id (the next page).' }),
  ),
});

const iso = (ms: number | null) => (ms === null ? null : formatIsoTime(ms));

/** A stored budget as the API body that would create it (PATCH merges onto it). */
export function toInputBody(budget: Budget): BudgetInputBody {
  const { scope } = budget;
  return {
    name: budget.name,
    limit_usd: nanoToUsd(budget.limitNanoUsd),
    window:
      budget.window.kind === 'rolling'
        ? { kind: 'rolling', hours: budget.window.hours }
        : { kind: budget.window.kind, tz: budget.window.timeZone },
    scope: {
      ...(scope.tokenId !== undefined ? { token_id: scope.tokenId } : {}),
      ...(scope.model !== undefined ? { model: scope.model } : {}),
      ...(scope.modelPrefix !== undefined ? { model: `${scope.modelPrefix}*` } : {}),
      ...(scope.provider !== undefined ? { provider: scope.provider } : {}),
      ...(scope.user !== undefined ? { user: scope.user } : {}),
      ...(scope.tags ? { tags: Object.fromEntries(scope.tags.map((tag) => [tag.key, tag.value])) } : {}),
    },
    thresholds: budget.thresholdsBp.map((bp) => bp / 100),
    forecast_alert: budget.forecastAlert,
    channel_ids: budget.channelIds === null ? null : [...budget.channelIds],
  };
}

export function toBudgetBody(view: BudgetView): Static<typeof BudgetBody> {
  const { budget, window, forecast } = view;
  const input = toInputBody(budget);
  const spent = window.costNanoUsd;
  return {
    id: budget.id,
    name: budget.name,
    limit_usd: nanoToUsd(budget.limitNanoUsd),
    window:
      budget.window.kind === 'rolling'
        ? { kind: 'rolling', hours: budget.window.hours }
        : { kind: budget.window.kind, tz: budget.window.timeZone },
    window_label: describeWindow(budget.window),
    scope: input.scope ?? {},
    scope_label: describeScope(budget.scope),
    thresholds: input.thresholds ?? [],
    forecast_alert: budget.forecastAlert,
    channel_ids: input.channel_ids ?? null,
    created_at: formatIsoTime(budget.createdAt),
    updated_at: formatIsoTime(budget.updatedAt),
    counted: window.counted,
    current: {
      start: formatIsoTime(window.startMs),
      end: formatIsoTime(window.endMs),
      spent_usd: nanoToUsd(spent),
      remaining_usd: nanoToUsd(budget.limitNanoUsd - spent),
      percent_used: Math.round((spent / budget.limitNanoUsd) * 10_000) / 100,
      requests: window.requests,
      unpriced_requests: window.unpricedRequests,
      verdict: verdictFor(spent, budget.limitNanoUsd, warnAmount(budget.limitNanoUsd, budget.thresholdsBp)),
    },
    forecast: forecast
      ? {
          at: formatIsoTime(forecast.atMs),
          projected_usd: nanoToUsd(forecast.projectedNanoUsd),
          low_usd: nanoToUsd(forecast.lowNanoUsd),
          high_usd: nanoToUsd(forecast.highNanoUsd),
          limit_reached_at: iso(forecast.limitReachedAtMs),
          hourly_rate_usd: nanoToUsd(forecast.hourlyRateNanoUsd),
          season: forecast.season,
          method: 'seasonal-trailing-rate' as const,
        }
      : null,
  };
}

function toDetailBody(detail: BudgetDetail): Static<typeof BudgetDetailBody> {
  return {
    ...toBudgetBody(detail),
    hours: detail.hours.map((hour) => ({
      t: formatIsoTime(hour.startMs),
      cost_usd: nanoToUsd(hour.costNanoUsd),
      unpriced_requests: hour.unpricedRequests,
    })),
    projection: (detail.forecast?.path ?? []).map((point) => ({
      t: formatIsoTime(point.t),
      projected_usd: nanoToUsd(Math.round(point.projected)),
      low_usd: nanoToUsd(Math.round(point.low)),
      high_usd: nanoToUsd(Math.round(point.high)),
    })),
  };
}

function toChannelBody(channel: AlertChannel): Static<typeof ChannelBody> {
  return {
    id: channel.id,
    name: channel.name,
    kind: channel.kind,
    url: channel.url,
    secret: channel.secret,
    enabled: channel.enabled,
    created_at: formatIsoTime(channel.createdAt),
  };
}

export function toAlertBody(event: AlertEvent): Static<typeof AlertBody> {
  return {
    id: event.id,
    kind: event.kind,
    budget_id: event.budgetId,
    created_at: formatIsoTime(event.createdAt),
    text: alertText(parsePayload(event.payload), null),
  };
}

export function toDeliveryBody(entry: DeliveryLogEntry): Static<typeof DeliveryBody> {
  return {
    id: entry.id,
    alert: toAlertBody(entry.event),
    channel: { id: entry.channelId, name: entry.channelName, kind: entry.channelKind },
    status: entry.status,
    attempts: entry.attempts,
    next_attempt_at: iso(entry.nextAttemptAt),
    last_attempt_at: iso(entry.lastAttemptAt),
    last_status_code: entry.lastStatusCode,
    last_error: entry.lastError,
    delivered_at: iso(entry.deliveredAt),
    created_at: formatIsoTime(entry.createdAt),
  };
}

function checkChannel(input: NewAlertChannel): NewAlertChannel {
  const name = input.name.trim();
  if (name === '') throw new AppError('invalid_request', 'name must not be empty');
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new AppError('invalid_request', `url must be an http(s) URL (got "${input.url.slice(0, 100)}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError('invalid_request', `url must be an http(s) URL (got "${input.url.slice(0, 100)}")`);
  return { ...input, name, url: url.toString(), secret: input.kind === 'webhook' ? input.secret : null };
}

const newSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

export function budgetRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  const { budgets, alerts, store } = deps;
  const tags = ['budgets'];
  const admin = { auth: 'admin' as const };
  return async (app) => {
    app.get(
      '/budgets',
      {
        config: admin,
        schema: {
          summary: 'Budgets with their current window, spend and forecast',
          tags,
          response: responses({ 200: Type.Object({ budgets: Type.Array(BudgetBody) }) }),
        },
      },
      async () => ({ budgets: (await budgets.list()).map(toBudgetBody) }),
    );

    app.post(
      '/budgets',
      {
        config: admin,
        schema: {
          summary: 'Create a budget (answers once its current window is counted)',
          tags,
          body: withExamples(BudgetInput, EXAMPLES.createBudget),
          response: responses({ 201: BudgetBody }),
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(toBudgetBody(await budgets.create(parseBudgetInput(request.body as BudgetInputBody)))),
    );

    app.get(
      '/budgets/channels',
      {
        config: admin,
        schema: {
          summary: 'Alert channels',
          tags,
          response: responses({ 200: Type.Object({ channels: Type.Array(ChannelBody) }) }),
        },
      },
      async () => ({ channels: (await store.alerts.listChannels()).map(toChannelBody) }),
    );

    app.post(
      '/budgets/channels',
      {
        config: admin,
        schema: {
          summary: 'Add an alert channel: a signed JSON webhook or a Slack incoming webhook',
          tags,
          body: withExamples(ChannelInput, EXAMPLES.createChannel),
          response: responses({ 201: ChannelBody }),
        },
      },
      async (request, reply) => {
        const body = request.body;
        const channel = checkChannel({
          name: body.name,
          kind: body.kind,
          url: body.url,
          secret: body.kind === 'webhook' ? (body.secret ?? newSecret()) : null,
          enabled: body.enabled ?? true,
        });
        return reply
          .status(201)
          .send(toChannelBody(await store.alerts.createChannel(channel, deps.clock.now())));
      },
    );

    app.patch(
      '/budgets/channels/:id',
      {
        config: admin,
        schema: {
          summary: 'Change an alert channel',
          tags,
          params: IdParams,
          body: withExamples(ChannelPatch, EXAMPLES.patchChannel),
          response: responses({ 200: ChannelBody }),
        },
      },
      async (request) => {
        const existing = await store.alerts.getChannel(request.params.id);
        if (!existing) throw new AppError('not_found', `No alert channel with id ${request.params.id}`);
        const kind = request.body.kind ?? existing.kind;
        const merged = checkChannel({
          name: request.body.name ?? existing.name,
          kind,
          url: request.body.url ?? existing.url,
          secret: kind === 'webhook' ? (request.body.secret ?? existing.secret ?? newSecret()) : null,
          enabled: request.body.enabled ?? existing.enabled,
        });
        const saved = await store.alerts.updateChannel(existing.id, merged);
        if (!saved) throw new AppError('not_found', `No alert channel with id ${request.params.id}`);
        return toChannelBody(saved);
      },
    );

    app.delete(
      '/budgets/channels/:id',
      {
        config: admin,
        schema: {
          summary: 'Delete an alert channel (its pending deliveries fail; the log keeps them)',
          tags,
          params: IdParams,
          response: responses({ 200: OkBody }),
        },
      },
      async (request) => {
        if (!(await store.alerts.deleteChannel(request.params.id, deps.clock.now())))
          throw new AppError('not_found', `No alert channel with id ${request.params.id}`);
        return { ok: true as const };
      },
    );

    app.post(
      '/budgets/channels/:id/test',
      {
        config: admin,
        schema: {
          summary: 'Send a test alert to the channel now; answers with the delivery',
          tags,
          params: IdParams,
          body: withExamples(
            Type.Object({}, { description: 'A JSON object; {} is enough.' }),
            EXAMPLES.testChannel,
          ),
          response: responses({ 200: DeliveryBody }),
        },
      },
      async (request) => toDeliveryBody(await alerts.sendTest(request.params.id)),
    );

    app.get(
      '/budgets/deliveries',
      {
        config: admin,
        schema: {
          summary: 'The delivery log: every alert sent to every channel, newest first',
          tags,
          querystring: PageQuery,
          response: responses({ 200: Type.Object({ deliveries: Type.Array(DeliveryBody) }) }),
        },
      },
      async (request) => ({
        deliveries: (await store.alerts.listDeliveries(request.query.limit, request.query.before)).map(
          toDeliveryBody,
        ),
      }),
    );

    app.get(
      '/budgets/alerts',
      {
        config: admin,
        schema: {
          summary: 'Every alert that fired, newest first',
          tags,
          querystring: PageQuery,
          response: responses({ 200: Type.Object({ alerts: Type.Array(AlertBody) }) }),
        },
      },
      async (request) => ({
        alerts: (await store.alerts.listEvents(request.query.limit, request.query.before)).map(toAlertBody),
      }),
    );

    app.get(
      '/budgets/alert-settings',
      {
        config: admin,
        schema: {
          summary: 'The anomaly and unpriced-model alert settings',
          tags,
          response: responses({ 200: AlertSettingsSchema }),
        },
      },
      async () => toSettingsBody(await alerts.settings()),
    );

    app.patch(
      '/budgets/alert-settings',
      {
        config: admin,
        schema: {
          summary: 'Change the anomaly and unpriced-model alert settings (fields left out keep their value)',
          tags,
          body: withExamples(AlertSettingsPatch, EXAMPLES.patchAlertSettings),
          response: responses({ 200: AlertSettingsSchema }),
        },
      },
      async (request) => toSettingsBody(await alerts.saveSettings(request.body as AlertSettingsBody)),
    );

    app.get(
      '/budgets/:id',
      {
        config: admin,
        schema: {
          summary: 'One budget with its hourly spend and projection, for a chart',
          tags,
          params: IdParams,
          response: responses({ 200: BudgetDetailBody }),
        },
      },
      async (request) => {
        const detail = await budgets.get(request.params.id);
        if (!detail) throw new AppError('not_found', `No budget with id ${request.params.id}`);
        return toDetailBody(detail);
      },
    );

    app.patch(
      '/budgets/:id',
      {
        config: admin,
        schema: {
          summary:
            'Change a budget (fields left out keep their value; a new scope or window is counted again)',
          tags,
          params: IdParams,
          body: withExamples(BudgetPatch, EXAMPLES.patchBudget),
          response: responses({ 200: BudgetBody }),
        },
      },
      async (request) => {
        const existing = await store.budgets.get(request.params.id);
        if (!existing) throw new AppError('not_found', `No budget with id ${request.params.id}`);
        const body = { ...toInputBody(existing), ...(request.body as Partial<BudgetInputBody>) };
        return toBudgetBody(await budgets.update(existing.id, parseBudgetInput(body)));
      },
    );

    app.delete(
      '/budgets/:id',
      {
        config: admin,
        schema: {
          summary: 'Delete a budget (its alerts stay in the log)',
          tags,
          params: IdParams,
          response: responses({ 200: OkBody }),
        },
      },
      async (request) => {
        await budgets.delete(request.params.id);
        return { ok: true as const };
      },
    );
  };
}
