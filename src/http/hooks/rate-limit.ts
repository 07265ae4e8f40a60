import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { BucketDecision, BucketStore } from '../../ratelimit/bucket-store.js';
import { DOCS_PREFIX, OPENAPI_PATH } from '../openapi.js';

export function setRateLimitHeaders(reply: FastifyReply, decision: BucketDecision): void {
  reply.header('x-ratelimit-limit', decision.limit);
  reply.header('x-ratelimit-remaining', decision.remaining);
  reply.header('x-ratelimit-reset', Math.ceil(decision.resetMs / 1000));
}

export function rateLimitedError(decision: BucketDecision, message = 'Rate limit exceeded'): AppError {
  return new AppError('rate_limited', message, {
    'retry-after': String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))),
  });
}

/**
 * The admin limiter: one bucket per client IP (RATE_LIMIT_RPM / RATE_LIMIT_BURST) for every request
 * that is not on an exempt path and not an ingest route (ingest is limited per tracking token).
 * The API docs page (`/docs` and its scripts and styles) and the document it loads (`/openapi.json`)
 * are always exempt: they serve no data, and opening the page would otherwise spend half a dozen
 * requests of the caller's burst (and break once the bucket is empty: issue 16.10).
 */
export function createAdminRateLimiter(deps: {
  config: Config;
  buckets: BucketStore;
  clock: Clock;
  metrics: Metrics;
}) {
  const { config, buckets, clock, metrics } = deps;
  const limits = { capacity: config.rateLimit.burst, refillPerMinute: config.rateLimit.ratePerMinute };
  const exempt = [...config.rateLimit.exemptPaths, DOCS_PREFIX, OPENAPI_PATH];

  const isExempt = (path: string) =>
    exempt.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));

  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.method === 'OPTIONS') return;
    const path = request.url.split('?')[0] ?? '/';
    if (isExempt(path)) return;
    const decision = await buckets.take(`admin:${request.ip}`, limits, clock.now());
    setRateLimitHeaders(reply, decision);
    if (!decision.allowed) {
      metrics.countRateLimitHit('admin');
      throw rateLimitedError(decision);
    }
  };
}
