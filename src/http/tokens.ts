import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { trackingTokenBody } from '../ingest/tracking-token-body.js';
import { createTrackingToken } from '../ingest/tracking-tokens.js';
import { formatIsoTime } from '../lib/time.js';
import type { TokenRecord } from '../storage/store.js';
import type { HttpDeps } from './deps.js';
import { EXAMPLES, withExamples } from './request-examples.js';
import { GroupCostUsd, IdParams, OkBody, responses } from './schemas.js';

export const TokenBody = Type.Object({
  id: Type.Integer(),
  label: Type.String(),
  token: Type.String({
    description: 'The tracking token (an identifier, not a secret: INGEST_KEY is the secret).',
  }),
  token_masked: Type.String({ description: '<first 4>…<last 4> of the token, for display.' }),
  active: Type.Union([Type.Literal(0), Type.Literal(1)], {
    description: '1 when accepted by /ingest (0/1 as in the original).',
  }),
  created_at: Type.String({ description: 'ISO-8601 UTC.' }),
  last_seen_at: Type.Union([Type.String(), Type.Null()], {
    description: 'Server time of the last ingest, ISO-8601 UTC.',
  }),
  usage_count: Type.Integer(),
  cost_usd: GroupCostUsd('Spend of this token (priced rows).'),
  unpriced_count: Type.Integer({ description: 'Rows of this token whose model has no known price.' }),
});

export function tokenRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/ingest/tokens',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'List tracking tokens with their usage',
          tags: ['tokens'],
          response: responses({ 200: Type.Object({ tokens: Type.Array(TokenBody) }) }),
        },
      },
      async () => ({ tokens: (await deps.store.listTokens()).map(trackingTokenBody) }),
    );

    app.post(
      '/ingest/tokens',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Create a tracking token',
          tags: ['tokens'],
          body: withExamples(
            Type.Object({
              label: Type.String({ maxLength: 1000, description: '1-64 characters after trimming; unique.' }),
            }),
            EXAMPLES.createToken,
          ),
          response: responses({
            201: Type.Object({
              id: Type.Integer(),
              token: Type.String(),
              label: Type.String(),
              created_at: Type.String(),
            }),
          }),
        },
      },
      async (request, reply) => {
        const token: TokenRecord = await createTrackingToken(
          { store: deps.store, clock: deps.clock, tokenLength: deps.config.trackingTokenLength },
          request.body.label,
        );
        return reply.status(201).send({
          id: token.id,
          token: token.token,
          label: token.label,
          created_at: formatIsoTime(token.createdAt),
        });
      },
    );

    app.patch(
      '/ingest/tokens/:id/active',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Activate or deactivate a tracking token',
          tags: ['tokens'],
          params: IdParams,
          body: withExamples(
            Type.Object({
              active: Type.Boolean({ description: 'A JSON boolean; "false" (a string) is refused.' }),
            }),
            EXAMPLES.setTokenActive,
          ),
          response: responses({
            200: Type.Object({ ok: Type.Literal(true), id: Type.Integer(), active: Type.Boolean() }),
          }),
        },
      },
      async (request) => {
        const token = await deps.store.setTokenActive(request.params.id, request.body.active);
        if (!token) throw new AppError('not_found', `No tracking token with id ${request.params.id}`);
        return { ok: true as const, id: token.id, active: token.active };
      },
    );

    app.delete(
      '/ingest/tokens/:id',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Delete a tracking token (its usage history is kept, still attributed to it)',
          tags: ['tokens'],
          params: IdParams,
          response: responses({ 200: OkBody }),
        },
      },
      async (request) => {
        const deleted = await deps.store.deleteToken(request.params.id, deps.clock.now());
        if (!deleted) throw new AppError('not_found', `No tracking token with id ${request.params.id}`);
        return { ok: true as const };
      },
    );
  };
}
