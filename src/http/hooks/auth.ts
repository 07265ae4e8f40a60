/// <reference types="@fastify/cookie" />
import * as crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { Metrics } from '../../metrics/metrics.js';
import { AUTH_FAILURE_KEY_PREFIX, type BucketStore } from '../../ratelimit/bucket-store.js';
import type { Store } from '../../storage/store.js';
import { csrfTokenMatches, hashSessionId, isSafeMethod, SESSION_COOKIE } from './session-cookie.js';

/**
 * Which credential a route needs. Set per route in `config.auth`. `metrics` routes take the admin
 * key, or the METRICS_TOKEN as a bearer token when one is configured.
 */
export type RouteAuth = 'public' | 'admin' | 'ingest' | 'metrics';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

/**
 * Constant-time comparison of a presented key with the configured one. Only the key's length can
 * leak, as with Python's hmac.compare_digest and Rails' secure_compare: the length of a random key
 * tells an attacker nothing useful. Hashing both sides first (to hide the length too) cost about
 * 2 us a request, a few percent of ingest's CPU (docs/adr/008-key-comparison.md).
 */
export function secretMatches(candidate: string | undefined, secret: Buffer): boolean {
  if (candidate === undefined) return false;
  const presented = Buffer.from(candidate);
  return presented.length === secret.length && crypto.timingSafeEqual(presented, secret);
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export interface AuthDeps {
  config: Config;
  buckets: BucketStore;
  clock: Clock;
  metrics: Metrics;
  sessions: Pick<Store, 'findSession'>;
}

/** Which failed-attempt budget a credential draws on; the two never lock each other out. */
type FailureBudget = 'admin' | 'ingest';

/**
 * Checks the admin or ingest key of a request. Wrong or missing keys are counted per client IP, in
 * two separate budgets of AUTH_FAILURES_PER_MINUTE: one for the admin side (X-API-Key, the
 * metrics token, sign-in, session cookies), one for ingest keys.
 *
 * Admin side: once an IP has used up its budget it gets 429 without its key being compared, so
 * the admin key cannot be brute-forced, even at the cost of refusing a correct key from that IP
 * for a while. Ingest: a correct X-Ingest-Key always gets through; only wrong ones get 429. Behind
 * a proxy without TRUST_PROXY every app shares one IP, and one app with a stale key must not stop
 * every other app's usage (issue 16.7). What stops guessing an ingest key is its length
 * (production refuses keys under 24 characters) and the tracking token each record still needs.
 * A valid session cookie (a 256-bit random id) also gets through: a signed-in dashboard keeps
 * working while someone else's wrong key has locked its address out. docs/operations.md has the
 * trade-off.
 *
 * Admin routes also accept the dashboard's session cookie (when no X-API-Key is sent). A
 * state-changing request authenticated by the cookie must carry the session's X-CSRF-Token; a
 * request with X-API-Key needs none (a browser never adds that header on its own).
 */
export function createAuthenticator(deps: AuthDeps) {
  const { config, buckets, clock, metrics, sessions } = deps;
  const adminSecret = config.apiKey === undefined ? undefined : Buffer.from(config.apiKey);
  const ingestSecret = config.ingestKey === undefined ? undefined : Buffer.from(config.ingestKey);
  const metricsSecret = config.metricsToken === undefined ? undefined : Buffer.from(config.metricsToken);
  const failureLimits = {
    capacity: config.authFailuresPerMinute,
    refillPerMinute: config.authFailuresPerMinute,
  };
  const failureKey = (request: FastifyRequest, budget: FailureBudget) =>
    `${AUTH_FAILURE_KEY_PREFIX}${budget}:${request.ip}`;

  function tooManyFailures(retryAfterMs: number): AppError {
    metrics.countRateLimitHit('auth');
    return new AppError('rate_limited', 'Too many failed authentication attempts', {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    });
  }

  /** Throws 429 once this IP has used up its failed attempts. */
  async function refuseWhenExhausted(request: FastifyRequest, budget: FailureBudget): Promise<void> {
    const decision = await buckets.peek(failureKey(request, budget), failureLimits, clock.now());
    if (!decision.allowed) throw tooManyFailures(decision.retryAfterMs);
  }

  /** Counts a failed attempt; throws 429 instead when the budget was already used up. */
  async function countFailure(request: FastifyRequest, budget: FailureBudget): Promise<void> {
    const decision = await buckets.take(failureKey(request, budget), failureLimits, clock.now());
    if (!decision.allowed) throw tooManyFailures(decision.retryAfterMs);
  }

  async function checkAdminKey(request: FastifyRequest): Promise<void> {
    if (adminSecret === undefined) return;
    await refuseWhenExhausted(request, 'admin');
    if (secretMatches(header(request, 'x-api-key'), adminSecret)) return;
    if (acceptsMetricsToken(request)) return;
    await countFailure(request, 'admin');
    throw new AppError('unauthorized', 'Invalid or missing X-API-Key');
  }

  async function checkSession(request: FastifyRequest, sessionId: string): Promise<void> {
    const session = await sessions.findSession(hashSessionId(sessionId), clock.now());
    if (!session) {
      await countFailure(request, 'admin');
      throw new AppError('unauthorized', 'Session expired or signed out; sign in again');
    }
    if (isSafeMethod(request.method)) return;
    if (!csrfTokenMatches(header(request, 'x-csrf-token'), sessionId)) {
      throw new AppError('forbidden', 'Missing or invalid X-CSRF-Token (required with the session cookie)');
    }
  }

  function acceptsMetricsToken(request: FastifyRequest): boolean {
    if (metricsSecret === undefined || request.routeOptions.config.auth !== 'metrics') return false;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header(request, 'authorization') ?? '');
    return secretMatches(match?.[1], metricsSecret);
  }

  return {
    /** True when admin routes need no key (development without API_KEY). */
    adminOpen: adminSecret === undefined,
    admin: (request: FastifyRequest) => {
      const sessionId = request.cookies?.[SESSION_COOKIE];
      if (adminSecret !== undefined && header(request, 'x-api-key') === undefined && sessionId) {
        return checkSession(request, sessionId);
      }
      return checkAdminKey(request);
    },
    /** Sign-in: the same comparison and failure counting as X-API-Key, for a key in a body. */
    verifyAdminKey: async (request: FastifyRequest, key: string): Promise<void> => {
      if (adminSecret === undefined) return;
      await refuseWhenExhausted(request, 'admin');
      if (secretMatches(key, adminSecret)) return;
      await countFailure(request, 'admin');
      throw new AppError('unauthorized', 'Wrong admin key');
    },
    ingest: async (request: FastifyRequest) => {
      if (ingestSecret === undefined) return;
      if (secretMatches(header(request, 'x-ingest-key'), ingestSecret)) return;
      metrics.countIngest('bad_auth');
      await countFailure(request, 'ingest');
      throw new AppError('unauthorized', 'Invalid or missing X-Ingest-Key');
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
