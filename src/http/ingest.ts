import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import type { BatchOutcome, RecordResult } from '../ingest/ingest-service.js';
import { IngestBatchSchema, IngestRecordSchema } from '../ingest/record-schema.js';
import { nanoToUsd } from '../lib/money.js';
import { BudgetVerdictBody, toVerdictBodies } from './budgets.js';
import type { HttpDeps } from './deps.js';
import { EXAMPLES, withExamples } from './request-examples.js';
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

const retryAfterSeconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));

/**
 * A batch whose records the rate limit refused is never a quiet 200: with nothing stored it is a
 * 429 (a client that only checks the status still notices, and may resend the whole batch), and
 * with some stored it is a 200 that carries Retry-After for the refused ones.
 */
function batchAnswer(outcome: BatchOutcome) {
  const count = (status: RecordResult['status']) => outcome.results.filter((r) => r.status === status).length;
  const body = {
    created: count('created'),
    duplicates: count('duplicate'),
    rejected: count('rejected'),
    results: outcome.results.map(toBatchItem),
  };
  if (outcome.retryAfterMs === null) return { body, headers: {} };
  const retryAfter = { 'retry-after': retryAfterSeconds(outcome.retryAfterMs) };
  if (body.created + body.duplicates === 0) {
    const limited = outcome.results.filter(
      (r) => r.status === 'rejected' && r.code === 'rate_limited',
    ).length;
    const others = body.rejected - limited;
    throw new AppError(
      'rate_limited',
      `Ingest rate limit exceeded: ${limited} of ${outcome.results.length} records refused and nothing stored${others > 0 ? ` (${others} more rejected for other reasons)` : ''}; resend after Retry-After seconds`,
      retryAfter,
    );
  }
  return { body, headers: retryAfter };
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
          body: withExamples(IngestRecordSchema, EXAMPLES.ingest),
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
        // One record nested too deeply is refused alone (normalise-record.ts), not the whole batch.
        config: { auth: 'ingest', depthCheckedPerItem: true },
        schema: {
          summary: 'Record up to 1,000 calls in one transaction',
          description:
            'Each record is answered on its own: created, duplicate, or rejected with a reason. When the rate limit refused records, the answer has Retry-After; when it refused records and nothing was stored, the answer is 429.',
          tags: ['ingest'],
          body: withExamples(IngestBatchSchema, EXAMPLES.ingestBatch),
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
      async (request, reply) => {
        const { body, headers } = batchAnswer(await deps.ingest.ingestBatch(request.body.records));
        return reply.headers(headers).send(body);
      },
    );
  };
}
