import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { formatIsoTime } from '../lib/time.js';
import { VERSION } from '../version.js';
import type { HttpDeps } from './deps.js';
import { responses } from './schemas.js';

const HealthBody = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
  timestamp: Type.String({ description: 'Server time, ISO-8601 UTC.' }),
  version: Type.String(),
  checks: Type.Object({ database: Type.Union([Type.Literal('ok'), Type.Literal('failed')]) }),
});

export function healthRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/ping',
      {
        config: { auth: 'public' },
        schema: {
          summary: 'Liveness',
          tags: ['health'],
          response: responses({ 200: Type.Object({ message: Type.Literal('pong') }) }),
        },
      },
      async () => ({ message: 'pong' as const }),
    );

    app.get(
      '/health',
      {
        config: { auth: 'public' },
        schema: {
          summary: 'Readiness: checks that the database answers',
          tags: ['health'],
          response: responses({ 200: HealthBody, 503: HealthBody }),
        },
      },
      async (request, reply) => {
        const timestamp = formatIsoTime(deps.clock.now());
        try {
          await deps.store.ping();
          return {
            status: 'healthy' as const,
            timestamp,
            version: VERSION,
            checks: { database: 'ok' as const },
          };
        } catch (error) {
          request.log.error({ err: error }, 'health check: database unavailable');
          return reply.status(503).send({
            status: 'unhealthy' as const,
            timestamp,
            version: VERSION,
            checks: { database: 'failed' as const },
          });
        }
      },
    );
  };
}
