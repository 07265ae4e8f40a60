import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RecordResult } from '../ingest/ingest-service.js';
import { IngestBatchSchema, IngestRecordSchema } from '../ingest/record-schema.js';
import { nanoToUsd } from '../lib/money.js';
import { BudgetVerdictBody, toVerdictBodies } from './budgets.js';
import type { HttpDeps } from './deps.js';
import { responses } from './schemas.js';

const PricingStatus = Type.Union([
  Type.Literal('priced'),
  Type.Literal('estimated'),
  Type.Literal('unpriced'),
]);

const BudgetsField = Type.Array(BudgetVerdictBody, {
  description: 'The budgets whose scope the record falls in, in their current window; [] when none.',
});

const CreatedBody = Type.Object({
  ok: Type.Literal(true),
  id: Type.Integer(),
  cost_usd: Type.Union([Type.Number(), Type.Null()], {
    description: 'Stored cost in USD; null when the model is unpriced.',
  }),
  pricing_status: PricingStatus,
  budgets: BudgetsField,
});
const DuplicateBody = Type.Object({
  duplicate: Type.Literal(true),
  id: Type.Integer({ description: 'The row stored first.' }),
  budgets: BudgetsField,
});

const BatchItem = Type.Object({
  index: Type.Integer(),
  status: Type.Union([Type.Literal('created'), Type.Literal('duplicate'), Type.Literal('rejected')]),
  id: Type.Optional(Type.Integer()),
  cost_usd: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  pricing_status: Type.Optional(PricingStatus),
  code: Type.Optional(
    Type.String({
      description:
        'Why a record was rejected: validation_error, unknown_token, inactive_token, rate_limited.',
    }),
  ),
  reason: Type.Optional(Type.String()),
  budgets: Type.Optional(BudgetsField),
});

function toBatchItem(result: RecordResult, index: number) {
  switch (result.status) {
    case 'created':
      return {
        index,
        status: result.status,
        id: result.id,
        cost_usd: result.costNanoUsd === null ? null : nanoToUsd(result.costNanoUsd),
        pricing_status: result.pricingStatus,
        budgets: toVerdictBodies(result.budgets),
      };
    case 'duplicate':
      return { index, status: result.status, id: result.id, budgets: toVerdictBodies(result.budgets) };
    case 'rejected':
      return { index, status: result.status, code: result.code, reason: result.reason };
  }
}

export function ingestRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/ingest',
      {
        config: { auth: 'ingest' },
        schema: {
          summary: 'Record the usage of one LLM call',
          description:
            'Answers 201 once the record is durable, or 200 {duplicate:true} when its event_id was already stored for this tracking token.',
          tags: ['ingest'],
          body: IngestRecordSchema,
          response: responses({ 201: CreatedBody, 200: DuplicateBody }),
        },
      },
      async (request, reply) => {
        const result = await deps.ingest.ingestOne(request.body);
        if (result.status === 'duplicate')
          return reply
            .status(200)
            .send({ duplicate: true as const, id: result.id, budgets: toVerdictBodies(result.budgets) });
        return reply.status(201).send({
          ok: true as const,
          id: result.id,
          cost_usd: result.costNanoUsd === null ? null : nanoToUsd(result.costNanoUsd),
          pricing_status: result.pricingStatus,
          budgets: toVerdictBodies(result.budgets),
        });
      },
    );

    app.post(
      '/ingest/batch',
      {
        config: { auth: 'ingest' },
        schema: {
          summary: 'Record up to 1,000 calls in one transaction',
          description: 'Each record is answered on its own: created, duplicate, or rejected with a reason.',
          tags: ['ingest'],
          body: IngestBatchSchema,
          response: responses({
            200: Type.Object({
              created: Type.Integer(),
              duplicates: Type.Integer(),
              rejected: Type.Integer(),
              results: Type.Array(BatchItem),
            }),
          }),
        },
      },
      async (request) => {
        const results = await deps.ingest.ingestBatch(request.body.records);
        const count = (status: RecordResult['status']) => results.filter((r) => r.status === status).length;
        return {
          created: count('created'),
          duplicates: count('duplicate'),
          rejected: count('rejected'),
          results: results.map(toBatchItem),
        };
      },
    );
  };
}
