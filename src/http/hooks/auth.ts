/// <reference types="@fastify/cookie" />
import * as crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { BucketStore } from '../../ratelimit/bucket-store.js';
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

/**
 * Checks the admin or ingest key of a request. Wrong or missing keys are counted per client IP;
 * once an IP has used up AUTH_FAILURES_PER_MINUTE it gets 429 without its key being compared, so
 * keys cannot be brute-forced.
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

  /** Throws 429 once this IP has used up its failed attempts. */
  async function refuseWhenExhausted(request: FastifyRequest): Promise<void> {
    const budget = await buckets.peek(`authfail:${request.ip}`, failureLimits, clock.now());
    if (!budget.allowed) {
      metrics.countRateLimitHit('auth');
      throw new AppError('rate_limited', 'Too many failed authentication attempts', {
        'retry-after': String(Math.max(1, Math.ceil(budget.retryAfterMs / 1000))),
      });
    }
  }

  async function countFailure(request: FastifyRequest): Promise<void> {
    await buckets.take(`authfail:${request.ip}`, failureLimits, clock.now());
  }

  async function check(
    request: FastifyRequest,
    secret: Buffer | undefined,
    headerName: string,
  ): Promise<void> {
    if (secret === undefined) return;
    await refuseWhenExhausted(request);
    if (secretMatches(header(request, headerName), secret)) return;
    if (headerName === 'x-api-key' && acceptsMetricsToken(request)) return;
    await countFailure(request);
    const label = headerName === 'x-api-key' ? 'X-API-Key' : 'X-Ingest-Key';
    throw new AppError('unauthorized', `Invalid or missing ${label}`);
  }

  async function checkSession(request: FastifyRequest, sessionId: string): Promise<void> {
    await refuseWhenExhausted(request);
    const session = await sessions.findSession(hashSessionId(sessionId), clock.now());
    if (!session) {
      await countFailure(request);
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
      return check(request, adminSecret, 'x-api-key');
    },
    /** Sign-in: the same comparison and failure counting as X-API-Key, for a key in a body. */
    verifyAdminKey: async (request: FastifyRequest, key: string): Promise<void> => {
      if (adminSecret === undefined) return;
      await refuseWhenExhausted(request);
      if (secretMatches(key, adminSecret)) return;
      await countFailure(request);
      throw new AppError('unauthorized', 'Wrong admin key');
    },
    ingest: async (request: FastifyRequest) => {
      try {
        await check(request, ingestSecret, 'x-ingest-key');
      } catch (error) {
        metrics.countIngest('bad_auth');
        throw error;
      }
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
