import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Store } from '../storage/store.js';
import type { HttpDeps } from './deps.js';
import { responses } from './schemas.js';

/** Writes waiting for a commit, when the backend queues them (SQLite's group commit does). */
function queuedWrites(store: Store): number | undefined {
  const value = (store as Store & { queuedWrites?: unknown }).queuedWrites;
  return typeof value === 'number' ? value : undefined;
}

export function prometheusRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/metrics/prometheus',
      {
        config: { auth: 'metrics' },
        schema: {
          summary: 'Operational metrics in the Prometheus text format',
          description:
            'The counters of GET /metrics plus latency, batch-size, database-timing and spend series. Needs X-API-Key, or "Authorization: Bearer <METRICS_TOKEN>" when METRICS_TOKEN is set.',
          tags: ['operations'],
          response: responses({
            200: Type.String({ description: 'text/plain; version=0.0.4 exposition format.' }),
          }),
        },
      },
      async (_request, reply) => {
        const stats = await deps.store.stats(deps.clock.now());
        const writes = await deps.store.writeHealth();
        deps.metrics.prometheus.observeWriteState(writes.state);
        const text = await deps.metrics.prometheus.render({
          usageRows: stats.usageRows,
          activeTrackingTokens: stats.activeTokens,
          lastUsageAt: stats.lastUsageAt,
          queuedWrites: queuedWrites(deps.store),
          ...(writes.freeBytes === undefined ? {} : { diskFreeBytes: writes.freeBytes }),
        });
        return reply.type(deps.metrics.prometheus.contentType).header('cache-control', 'no-store').send(text);
      },
    );
  };
}
