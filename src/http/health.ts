import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { formatIsoTime } from '../lib/time.js';
import { VERSION } from '../version.js';
import type { HttpDeps } from './deps.js';
import { responses } from './schemas.js';

const HealthBody = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy')], {
    description:
      'healthy (200); degraded (503): the database answers but writes are refused until the cause in checks.writes is gone; unhealthy (503): the database does not answer.',
  }),
  timestamp: Type.String({ description: 'Server time, ISO-8601 UTC.' }),
  version: Type.String(),
  checks: Type.Object({
    database: Type.Union([Type.Literal('ok'), Type.Literal('failed')]),
    writes: Type.Union(
      [Type.Literal('ok'), Type.Literal('locked'), Type.Literal('full'), Type.Literal('failed')],
      {
        description:
          'locked: another process holds the write lock; full: the disk is full; failed: writes stopped for good (restart needed).',
      },
    ),
  }),
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
          summary: 'Readiness: checks that the database answers and can take writes',
          tags: ['health'],
          response: responses({ 200: HealthBody, 503: HealthBody }),
        },
      },
      async (request, reply) => {
        const timestamp = formatIsoTime(deps.clock.now());
        let database: 'ok' | 'failed' = 'ok';
        try {
          await deps.store.ping();
        } catch (error) {
          request.log.error({ err: error }, 'health check: database unavailable');
          database = 'failed';
        }
        const writes = (await deps.store.writeHealth()).state;
        const status = database === 'failed' ? 'unhealthy' : writes === 'ok' ? 'healthy' : 'degraded';
        return reply.status(status === 'healthy' ? 200 : 503).send({
          status,
          timestamp,
          version: VERSION,
          checks: { database, writes },
        });
      },
    );
  };
}
