import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Timer } from '../lib/clock.js';
import type { UsageChange } from '../storage/store.js';
import type { HttpDeps } from './deps.js';
import { responses } from './schemas.js';

/** At most one event per this interval, however many commits happened in it. */
export const EVENT_INTERVAL_MS = 1000;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 25_000;

/**
 * Server-sent events for the dashboard. After usage rows are committed, every open stream gets one
 * small `usage` event (rows added since the last event, and whether a reset happened), coalesced to
 * at most one per EVENT_INTERVAL_MS: a busy ingest stream costs each dashboard one event a second,
 * never one per row, and the page decides what to re-fetch. Refused ingest records give a
 * `refused` event the same way (records refused since the last event): a client whose every
 * record is refused commits nothing, and the page must still learn of it to warn. SSE rather than
 * polling because an idle dashboard then costs nothing at all, and new usage shows within a second.
 */
export function eventRoutes(deps: HttpDeps, intervalMs = EVENT_INTERVAL_MS): FastifyPluginAsyncTypebox {
  return async (app) => {
    const streams = new Set<ServerResponse>();
    let changed = false;
    let rows = 0;
    let reset = false;
    let refused = 0;
    let lastSentAt = Number.NEGATIVE_INFINITY;
    let timer: Timer | undefined;
    const { clock, timers } = deps;

    const flush = () => {
      timer = undefined;
      lastSentAt = clock.now();
      let message = changed ? `event: usage\ndata: ${JSON.stringify({ rows, reset })}\n\n` : '';
      if (refused > 0) message += `event: refused\ndata: ${JSON.stringify({ records: refused })}\n\n`;
      changed = false;
      rows = 0;
      reset = false;
      refused = 0;
      for (const stream of streams) stream.write(message);
    };

    /** Noted changes go out in the next event; with no stream open they are dropped. */
    const schedule = () => {
      if (streams.size === 0) {
        changed = false;
        rows = 0;
        reset = false;
        refused = 0;
        return;
      }
      timer ??= timers.setTimeout(flush, Math.max(0, lastSentAt + intervalMs - clock.now()));
    };

    const unsubscribe = deps.store.onUsageChange((change: UsageChange) => {
      changed = true;
      if (change.kind === 'reset') reset = true;
      else rows += change.rows;
      schedule();
    });
    const unsubscribeRefusals = deps.metrics.onIngestRefused(() => {
      refused += 1;
      schedule();
    });

    let heartbeat: Timer;
    const beat = () => {
      for (const stream of streams) stream.write(': ping\n\n');
      heartbeat = timers.setTimeout(beat, HEARTBEAT_MS);
    };
    heartbeat = timers.setTimeout(beat, HEARTBEAT_MS);

    app.addHook('preClose', async () => {
      unsubscribe();
      unsubscribeRefusals();
      heartbeat.cancel();
      timer?.cancel();
      for (const stream of streams) stream.end();
      streams.clear();
    });

    app.get(
      '/events',
      {
        config: { auth: 'admin' },
        schema: {
          summary:
            'Server-sent events: `usage` after new usage is committed, `refused` after ingest records are refused (each at most one a second)',
          tags: ['dashboard'],
          produces: ['text/event-stream', 'application/json'],
          response: responses({
            200: Type.String({
              description:
                'text/event-stream; `usage` data is {"rows":n,"reset":bool}, `refused` data is {"records":n}',
            }),
          }),
        },
      },
      async (request, reply) => {
        reply.hijack();
        const stream = reply.raw;
        stream.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
          'x-request-id': request.id,
          connection: 'keep-alive',
        });
        // A HEAD request gets the headers and nothing else: Node sends them only with a body or at
        // the end, so a HEAD left open would never be answered.
        if (request.method === 'HEAD') {
          stream.end();
          return;
        }
        stream.write(`retry: 5000\n: connected\n\n`);
        streams.add(stream);
        request.raw.on('close', () => streams.delete(stream));
      },
    );
  };
}
