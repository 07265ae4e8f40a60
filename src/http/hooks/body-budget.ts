import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import type { Metrics } from '../../metrics/metrics.js';

/** Retry-After, in seconds, for a body refused because the budget is spent. */
export const BODY_BUDGET_RETRY_AFTER_S = 1;

/** Request-body bytes held at once, across every connection of the process. */
export interface BodyBudget {
  readonly inFlightBytes: number;
  readonly limitBytes: number;
}

const HELD = Symbol('bodyBytesHeld');
type CountedRequest = IncomingMessage & { [HELD]?: number };

/**
 * A process-wide budget of request-body bytes, counted as the bytes arrive and given back when
 * the request is answered or its connection closes (issue 16.3: 1,500 stalled 900 KiB bodies held
 * 1.4 GB). A request whose body would take the total past `limitBytes` is answered 503
 * `unavailable` with Retry-After and its connection is closed: at once when its declared length
 * does not fit (nothing of it is read), or as soon as a chunk of it goes past the limit.
 * REQUEST_TIMEOUT_MS bounds how long any body can hold its share.
 *
 * Bytes are counted by a 'data' listener on the raw request (a counting stream between the socket
 * and the body parser cost ~8 us per request, ~18% of a bare Fastify request). Adding the listener
 * would start the stream flowing on the next tick, before a body parser that a later asynchronous
 * hook delays is listening, and a chunk emitted then would be lost to it: the listener is added
 * paused, and the parser resumes the stream when it reads (Fastify's does, so does pipe()).
 */
export function registerBodyBudget(
  app: FastifyInstance,
  deps: { limitBytes: number; bodyLimitBytes: number; metrics: Metrics },
): BodyBudget {
  const { limitBytes, bodyLimitBytes, metrics } = deps;
  let inFlightBytes = 0;

  const refusal = () => {
    metrics.prometheus.countBodyBudgetRefusal();
    return new AppError(
      'unavailable',
      'The server is receiving too many request bodies at once; nothing was read. Retry shortly.',
      { 'retry-after': String(BODY_BUDGET_RETRY_AFTER_S), connection: 'close' },
    );
  };

  function count(this: CountedRequest, chunk: Buffer | string): void {
    this[HELD] = (this[HELD] ?? 0) + chunk.length;
    inFlightBytes += chunk.length;
    if (inFlightBytes <= limitBytes) return;
    this.removeListener('data', count);
    this.pause();
    const error = refusal();
    // The body parser listens for 'error' on the request while it reads, and answers with the
    // error's status (it closes the connection too). Emitted on the next tick, after the chunk
    // in hand has reached every listener; if the parser has stopped listening by then, the body
    // is complete and is answered normally.
    process.nextTick(() => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  function release(this: ServerResponse): void {
    const request = this.req as CountedRequest;
    inFlightBytes -= request[HELD] ?? 0;
    request[HELD] = 0;
    request.removeListener('data', count);
  }

  app.addHook('preParsing', (request, reply, payload, done) => {
    const { headers } = request;
    const contentLength = headers['content-length'];
    if (contentLength === undefined && headers['transfer-encoding'] === undefined) {
      done(null, payload);
      return;
    }
    // A declared length over BODY_LIMIT_BYTES is the parser's 413, not a budget matter.
    const declared = Math.min(Number(contentLength) || 0, bodyLimitBytes);
    if (inFlightBytes + declared > limitBytes) {
      done(refusal());
      return;
    }
    const raw = request.raw as CountedRequest;
    raw[HELD] = 0;
    raw.on('data', count);
    raw.pause();
    reply.raw.once('close', release);
    done(null, payload);
  });

  return {
    get inFlightBytes() {
      return inFlightBytes;
    },
    limitBytes,
  };
}
