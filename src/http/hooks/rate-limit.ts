import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { BucketDecision, BucketStore } from '../../ratelimit/bucket-store.js';
import type { Store } from '../../storage/store.js';
import { DOCS_PREFIX, OPENAPI_PATH } from '../openapi.js';
import { hashSessionId, SESSION_COOKIE } from './session-cookie.js';

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
 * A signed-in dashboard session's own bucket (at least this, more when RATE_LIMIT_* allow more).
 * One page load is about ten requests and a few quick reloads used to spend the whole per-IP
 * budget (issue 17.4); a session is only ever created by a correct admin key, so its requests
 * need no brute-force budget, and this bound only stops a runaway page.
 */
export const SESSION_RATE_LIMIT = { capacity: 600, refillPerMinute: 1200 } as const;

/**
 * The admin limiter: one bucket per client IP (RATE_LIMIT_RPM / RATE_LIMIT_BURST) for every request
 * that is not on an exempt path and not an ingest route (ingest is limited per tracking token).
 * The API docs page (`/docs` and its scripts and styles) and the document it loads (`/openapi.json`)
 * are always exempt: they serve no data, and opening the page would otherwise spend half a dozen
 * requests of the caller's burst (and break once the bucket is empty: issue 16.10).
 * A request carrying a valid dashboard session cookie (and no X-API-Key) is charged to that
 * session's own bucket instead (SESSION_RATE_LIMIT); an unknown or expired cookie is charged to
 * the IP like any other request, and the authenticator counts it as a failure.
 */
export function createAdminRateLimiter(deps: {
  config: Config;
  buckets: BucketStore;
  clock: Clock;
  metrics: Metrics;
  sessions: Pick<Store, 'findSession'>;
}) {
  const { config, buckets, clock, metrics, sessions } = deps;
  const limits = { capacity: config.rateLimit.burst, refillPerMinute: config.rateLimit.ratePerMinute };
  const sessionLimits = {
    capacity: Math.max(SESSION_RATE_LIMIT.capacity, limits.capacity),
    refillPerMinute: Math.max(SESSION_RATE_LIMIT.refillPerMinute, limits.refillPerMinute),
  };
  const exempt = [...config.rateLimit.exemptPaths, DOCS_PREFIX, OPENAPI_PATH];

  const isExempt = (path: string) =>
    exempt.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));

  /** The bucket of a request with a live session cookie, or undefined. */
  async function sessionBucket(request: FastifyRequest): Promise<string | undefined> {
    const sessionId = request.cookies?.[SESSION_COOKIE];
    if (config.apiKey === undefined || !sessionId || request.headers['x-api-key'] !== undefined) return;
    const session = await sessions.findSession(hashSessionId(sessionId), clock.now());
    return session ? `session:${session.idHash}` : undefined;
  }

  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.method === 'OPTIONS') return;
    const path = request.url.split('?')[0] ?? '/';
    if (isExempt(path)) return;
    const session = await sessionBucket(request);
    const decision = session
      ? await buckets.take(session, sessionLimits, clock.now())
      : await buckets.take(`admin:${request.ip}`, limits, clock.now());
    setRateLimitHeaders(reply, decision);
    if (!decision.allowed) {
      metrics.countRateLimitHit('admin');
      throw rateLimitedError(decision);
    }
  };
}
