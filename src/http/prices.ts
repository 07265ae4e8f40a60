import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { AppError } from '../errors.js';
import { nanoToUsd } from '../lib/money.js';
import { formatIsoTime, parseIsoTime } from '../lib/time.js';
import type { PriceDescription, PricingEngine } from '../pricing/pricing-engine.js';
import { repriceResultBody, repriceScopeBody } from '../repricing/reprice-body.js';
import type { RepriceRun } from '../storage/store.js';
import { parseUsageFilter } from '../usage-filter.js';
import type { HttpDeps } from './deps.js';
import { EXAMPLES, withExamples } from './request-examples.js';
import { IdParams, responses } from './schemas.js';

const Rate = Type.Union([
  Type.Number(),
  Type.Object({
    base: Type.Number(),
    tiers: Type.Array(Type.Object({ start: Type.Integer(), price: Type.Number() })),
  }),
]);
const Rates = Type.Record(Type.String(), Rate, { description: 'USD per million tokens, by price key.' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const TierBody = Type.Object({
  tier: Type.String(),
  multiplier: Type.String({
    description: 'Exact multiplier on the standard rates, e.g. "1/2", "7/4", "5/3".',
  }),
  status: Type.Union([Type.Literal('priced'), Type.Literal('estimated')]),
  reason: Nullable(Type.String()),
});

const PriceView = Type.Object({
  at: Type.String({ description: 'The instant priced, ISO-8601 UTC.' }),
  source: Type.String({ description: 'Price layer and version, e.g. genai-prices@0.1.8 or override-db@v2.' }),
  matched_model: Type.String({ description: 'The price entry the model matched (covers its snapshots).' }),
  name: Nullable(Type.String()),
  effective_from: Nullable(
    Type.String({ description: 'YYYY-MM-DD (UTC) this price started; null: always.' }),
  ),
  effective_until: Nullable(
    Type.String({ description: 'YYYY-MM-DD the next price starts; null: none known.' }),
  ),
  rates: Rates,
  schedule: Type.Array(Type.Object({ from: Nullable(Type.String()), rates: Rates })),
  tiers: Type.Array(TierBody),
});

const ModelPriceBody = Type.Object({
  provider: Type.String({
    description: 'The provider asked for, or (without provider=) the one ingest would store.',
  }),
  model: Type.String({ description: 'The model as ingest would store it (a provider prefix removed).' }),
  provider_from: Type.Union(
    [
      Type.Literal('request'),
      Type.Literal('default'),
      Type.Literal('prefix'),
      Type.Literal('model_name'),
      Type.Literal('catalogue'),
      Type.Literal('none'),
    ],
    {
      description:
        'Where the provider came from: the request, the default provider (it prices the model), a provider prefix (anthropic/...), the model name (claude-*, gemini-*), the one provider listing it, or none found (the default).',
    },
  ),
  now: Nullable(PriceView),
  at: Type.Optional(Nullable(PriceView)),
  sources: Type.Array(Type.String(), { description: 'Price layers consulted, highest precedence first.' }),
  hint: Nullable(
    Type.String({
      description: 'When there is no price now: why, and what to try (close names, provider=).',
    }),
  ),
  close_models: Type.Array(Type.Object({ provider: Type.String(), model: Type.String() }), {
    description: 'When there is no price now: catalogue names close to the model, nearest first.',
  }),
});

const OverrideEntries = Type.Record(
  Type.String(),
  Type.Array(Type.Object({}, { additionalProperties: true })),
  {
    description: 'Provider id -> model entries (docs/pricing.md).',
  },
);

export const OverridesBody = Type.Object({
  precedence: Type.Array(Type.String()),
  sources: Type.Array(Type.String()),
  db: Nullable(
    Type.Object({
      version: Type.Integer(),
      created_at: Type.String(),
      actor: Type.String(),
      note: Nullable(Type.String()),
      overrides: OverrideEntries,
    }),
  ),
  file: Nullable(Type.Object({ path: Type.String(), version: Type.String(), overrides: OverrideEntries })),
  refused: Type.Array(Type.String(), {
    description:
      'Entries of the stored version that this build cannot use (e.g. a regex RE2 cannot compile), each named; they are skipped until a corrected version is saved.',
  }),
});

const Money = {
  old_total_usd: Type.Number(),
  new_total_usd: Type.Number(),
  delta_usd: Type.Number(),
  old_total_nanousd: Type.Integer(),
  new_total_nanousd: Type.Integer(),
  delta_nanousd: Type.Integer(),
};

const ScopeBody = Type.Object({
  model: Nullable(Type.String()),
  start: Nullable(Type.String()),
  end: Nullable(Type.String()),
});

export const RepriceBody = Type.Object({
  dry_run: Type.Boolean(),
  scope: ScopeBody,
  rows: Type.Integer({ description: 'Rows in scope.' }),
  changed: Type.Integer({
    description:
      'Rows whose pricing (or provider) differs under the current prices (written unless dry run).',
  }),
  provider_moves: Type.Array(
    Type.Object({ model: Type.String(), from: Type.String(), to: Type.String(), rows: Type.Integer() }),
    {
      description:
        'Rows stored under the default provider that move to the provider their model name belongs to (reprice runs; empty for an undo).',
    },
  ),
  skipped: Type.Integer({ description: 'Rows changed by someone else meanwhile; left alone.' }),
  unpriced_before: Type.Integer(),
  unpriced_after: Type.Integer(),
  ...Money,
  by_model: Type.Array(
    Type.Object({
      provider: Type.String(),
      model: Type.String(),
      rows: Type.Integer(),
      changed: Type.Integer(),
      unpriced_before: Type.Integer(),
      unpriced_after: Type.Integer(),
      ...Money,
    }),
  ),
  audit_id: Nullable(
    Type.Integer({ description: 'GET /prices/reprice/{audit_id} shows every changed row.' }),
  ),
  price_sources: Type.Array(Type.String()),
});

const RunBody = Type.Object({
  id: Type.Integer(),
  kind: Type.Union([Type.Literal('reprice'), Type.Literal('undo')]),
  undo_of: Nullable(Type.Integer()),
  status: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  actor: Type.String(),
  request_id: Nullable(Type.String()),
  started_at: Type.String(),
  finished_at: Nullable(Type.String()),
  scope: ScopeBody,
  price_sources: Type.Array(Type.String()),
  rows_scanned: Type.Integer(),
  rows_changed: Type.Integer(),
  rows_skipped: Type.Integer(),
  old_total_usd: Type.Number({ description: 'Over the changed rows.' }),
  new_total_usd: Type.Number(),
  error: Nullable(Type.String()),
});

const Pricing = Type.Object({
  cost_usd: Nullable(Type.Number()),
  cost_nanousd: Nullable(Type.Integer()),
  status: Type.String(),
  source: Nullable(Type.String()),
  rates: Nullable(Type.Unknown()),
});

const Actor = Type.Optional(
  Type.String({ minLength: 1, maxLength: 100, description: 'Who asked, for the audit trail.' }),
);

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : formatIsoTime(ms));
const usd = (nano: number | null) => (nano === null ? null : nanoToUsd(nano));

function priceView(description: PriceDescription | null) {
  if (!description) return null;
  const { base } = description;
  return {
    at: formatIsoTime(description.atMs),
    source: base.source,
    matched_model: base.modelId,
    name: base.modelName,
    effective_from: base.effectiveFrom,
    effective_until: base.effectiveUntil,
    rates: base.price as Record<string, number>,
    schedule: base.schedule.map((entry) => ({
      from: entry.from,
      rates: entry.prices as Record<string, number>,
    })),
    tiers: description.tiers,
  };
}

function runBody(run: RepriceRun) {
  return {
    id: run.id,
    kind: run.kind,
    undo_of: run.undoOf,
    status: run.status,
    actor: run.actor,
    request_id: run.requestId,
    started_at: formatIsoTime(run.startedAt),
    finished_at: iso(run.finishedAt),
    scope: repriceScopeBody(run.scope),
    price_sources: [...run.priceSources],
    rows_scanned: run.rowsScanned,
    rows_changed: run.rowsChanged,
    rows_skipped: run.rowsSkipped,
    old_total_usd: nanoToUsd(run.oldTotalNanoUsd),
    new_total_usd: nanoToUsd(run.newTotalNanoUsd),
    error: run.error,
  };
}

function pricingBody(pricing: {
  costNanoUsd: number | null;
  status: string;
  source: string | null;
  rates: string | null;
}) {
  return {
    cost_usd: usd(pricing.costNanoUsd),
    cost_nanousd: pricing.costNanoUsd,
    status: pricing.status,
    source: pricing.source,
    rates: pricing.rates === null ? null : (JSON.parse(pricing.rates) as unknown),
  };
}

/** The provider a price question is about: the one asked for, or the one ingest would infer. */
function whichProvider(
  engine: PricingEngine,
  query: { model: string; provider?: string },
  config: { defaultProvider: string },
) {
  if (query.provider !== undefined) {
    return { provider: query.provider, model: query.model, from: 'request' as const, candidates: [] };
  }
  const inferred = engine.inferProvider(query.model, config.defaultProvider);
  return {
    provider: inferred.provider,
    model: inferred.model,
    from: inferred.inferredFrom ?? ('none' as const),
    candidates: inferred.candidates,
  };
}

/** Why a model has no price, and what to try. */
function unpricedHint(
  engine: PricingEngine,
  provider: string,
  model: string,
  from: string,
  candidates: readonly string[],
): { hint: string; close_models: { provider: string; model: string }[] } {
  const close = engine.closeNames(model, from === 'none' ? null : provider);
  const closeText = close.map((name) => `${name.model} (${name.provider})`).join(', ');
  const parts = [
    from === 'none'
      ? `No price layer knows "${model}", and its name points to no provider: usage records without provider store it under the default provider, ${provider}, unpriced.`
      : `No price layer knows "${model}" for ${provider}.`,
  ];
  if (candidates.length > 0) {
    parts.push(
      `Several providers list it (${candidates.join(', ')}): ask with provider=, and send provider with its usage records.`,
    );
  }
  if (close.length > 0) parts.push(`Close names: ${closeText}.`);
  parts.push('To price it, add an override (PUT /prices/overrides), then reprice.');
  return { hint: parts.join(' '), close_models: close };
}

const actorOf = (request: FastifyRequest, actor: string | undefined) =>
  `${actor ?? 'admin-api'}@${request.ip}`;

export function priceRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  const { prices, reprice, clock } = deps;
  return async (app) => {
    app.get(
      '/prices',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'What a model costs now (and at a given time), and where that price came from',
          tags: ['prices'],
          querystring: Type.Object({
            model: Type.String({ minLength: 1, maxLength: 200 }),
            provider: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            at: Type.Optional(
              Type.String({ description: 'YYYY-MM-DD or ISO-8601: also price at this instant.' }),
            ),
          }),
          response: responses({ 200: ModelPriceBody }),
        },
      },
      async (request) => {
        const { at } = request.query;
        const atMs = at === undefined ? undefined : parseIsoTime(at)?.ms;
        if (at !== undefined && atMs === undefined)
          throw new AppError('invalid_request', `at must be ISO-8601 (got "${at}")`);
        const engine = prices.current();
        const { provider, model, from, candidates } = whichProvider(engine, request.query, deps.config);
        const now = engine.describe(provider, model, clock.now());
        return {
          provider,
          model,
          provider_from: from,
          now: priceView(now),
          ...(atMs === undefined ? {} : { at: priceView(engine.describe(provider, model, atMs)) }),
          sources: [...engine.sources],
          ...(now === null
            ? unpricedHint(engine, provider, model, from, candidates)
            : { hint: null, close_models: [] }),
        };
      },
    );

    app.get(
      '/prices/overrides',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'User price overrides in force: from the admin API (database) and from PRICES_FILE',
          tags: ['prices'],
          response: responses({ 200: OverridesBody }),
        },
      },
      async () => {
        const stored = prices.stored();
        const file = prices.file();
        return {
          precedence: ['override-db', 'override-file', 'overlay', 'genai-prices'],
          sources: [...prices.current().sources],
          db: stored && {
            version: stored.version,
            created_at: formatIsoTime(stored.createdAt),
            actor: stored.actor,
            note: stored.note,
            overrides: stored.document as unknown as Record<string, Record<string, unknown>[]>,
          },
          file: file && {
            path: file.path,
            version: file.version,
            overrides: file.document as unknown as Record<string, Record<string, unknown>[]>,
          },
          refused: [...prices.refused()],
        };
      },
    );

    app.put(
      '/prices/overrides',
      {
        config: { auth: 'admin' },
        schema: {
          summary:
            'Replace the price overrides edited through the API (a new version; stored costs unchanged)',
          description:
            'Validated as a whole: a bad entry is a 400 naming it. New prices apply to new usage only; reprice to apply them to stored rows.',
          tags: ['prices'],
          body: withExamples(
            Type.Object({
              overrides: Type.Object(
                {},
                { additionalProperties: true, description: 'Provider id -> model entries.' },
              ),
              note: Type.Optional(Type.String({ maxLength: 1000 })),
              actor: Actor,
            }),
            EXAMPLES.putOverrides,
          ),
          response: responses({
            200: Type.Object({
              version: Type.Integer(),
              created_at: Type.String(),
              sources: Type.Array(Type.String()),
              affected_models: Type.Array(
                Type.Object({ provider: Type.String(), model: Type.String(), requests: Type.Integer() }),
                { description: 'Models with stored usage whose price changed; their stored costs did not.' },
              ),
              message: Type.String(),
            }),
          }),
        },
      },
      async (request) => {
        const { stored, affected } = await prices.putOverrides(request.body.overrides, {
          actor: actorOf(request, request.body.actor),
          note: request.body.note ?? null,
        });
        deps.metrics.prometheus.setRefusedPriceOverrides(prices.refused().length);
        return {
          version: stored.version,
          created_at: formatIsoTime(stored.createdAt),
          sources: [...prices.current().sources],
          affected_models: affected,
          message:
            affected.length === 0
              ? 'Saved. No stored usage is priced differently.'
              : 'Saved. Stored costs are unchanged; POST /prices/reprice (dry run first) to apply the new prices to them.',
        };
      },
    );

    app.post(
      '/prices/reprice',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Price stored usage again with the current prices (dry run by default)',
          description:
            'Scope by model and call time. A dry run (the default) shows the delta and changes nothing; dry_run=false writes the changes and records each old value under an audit id.',
          tags: ['prices'],
          body: withExamples(
            Type.Object({
              model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
              start: Type.Optional(Type.String({ description: 'YYYY-MM-DD or ISO-8601; inclusive.' })),
              end: Type.Optional(
                Type.String({ description: 'YYYY-MM-DD (whole day) or ISO-8601; inclusive.' }),
              ),
              dry_run: Type.Boolean({ default: true }),
              infer_provider: Type.Boolean({
                default: true,
                description:
                  'Move rows stored under the default provider to the provider their model name belongs to (claude-* to anthropic, ...), as ingest now stores them.',
              }),
              actor: Actor,
            }),
            EXAMPLES.reprice,
          ),
          response: responses({ 200: RepriceBody }),
        },
      },
      async (request) => {
        const { dry_run: dryRun, infer_provider: inferProviders, actor, ...range } = request.body;
        const scope = parseUsageFilter(range);
        const result = await reprice.reprice({
          ...scope,
          dryRun,
          inferProviders,
          actor: actorOf(request, actor),
          requestId: request.id,
        });
        return repriceResultBody(result);
      },
    );

    app.get(
      '/prices/reprice',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Reprice runs (the audit trail), newest first',
          tags: ['prices'],
          querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }),
          response: responses({ 200: Type.Object({ runs: Type.Array(RunBody) }) }),
        },
      },
      async (request) => ({ runs: (await reprice.listRuns(request.query.limit)).map(runBody) }),
    );

    app.get(
      '/prices/reprice/:id',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'One reprice run and the rows it changed (old and new pricing)',
          tags: ['prices'],
          params: IdParams,
          querystring: Type.Object({
            after: Type.Integer({
              minimum: 0,
              default: 0,
              description: 'Usage id to continue after (next_after).',
            }),
            limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
          }),
          response: responses({
            200: Type.Object({
              run: RunBody,
              changes: Type.Array(
                Type.Object({
                  usage_id: Type.Integer(),
                  old: Pricing,
                  new: Pricing,
                  provider: Nullable(
                    Type.Object(
                      { old: Type.String(), new: Type.String() },
                      { description: 'The provider the change moved the row from and to; null: not moved.' },
                    ),
                  ),
                }),
              ),
              next_after: Nullable(Type.Integer({ description: 'null on the last page.' })),
            }),
          }),
        },
      },
      async (request) => {
        const { id } = request.params;
        const { after, limit } = request.query;
        const [run, changes] = await Promise.all([reprice.getRun(id), reprice.listChanges(id, after, limit)]);
        const last = changes[changes.length - 1];
        return {
          run: runBody(run),
          changes: changes.map((change) => ({
            usage_id: change.usageId,
            old: pricingBody(change.old),
            new: pricingBody(change.new),
            provider: change.provider ?? null,
          })),
          next_after: changes.length === limit && last ? last.usageId : null,
        };
      },
    );

    app.post(
      '/prices/reprice/:id/undo',
      {
        config: { auth: 'admin' },
        schema: {
          summary:
            'Undo a reprice run: restore the old pricing of every row it changed that is still as it left it',
          tags: ['prices'],
          params: IdParams,
          body: withExamples(
            Type.Object({ actor: Actor }, { description: 'A JSON object; {} is enough.' }),
            EXAMPLES.undoReprice,
          ),
          response: responses({ 200: RepriceBody }),
        },
      },
      async (request) => {
        const result = await reprice.undo(request.params.id, {
          actor: actorOf(request, request.body.actor),
          requestId: request.id,
        });
        return repriceResultBody(result);
      },
    );
  };
}
