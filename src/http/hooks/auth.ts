import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { BucketStore } from '../../ratelimit/bucket-store.js';

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

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison: hashing first makes the lengths equal, so nothing leaks through timing. */
export function secretMatches(candidate: string | undefined, secret: Buffer): boolean {
  if (candidate === undefined) return false;
  return timingSafeEqual(digest(candidate), secret);
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
}

/**
 * Checks the admin or ingest key of a request. Wrong or missing keys are counted per client IP;
 * once an IP has used up AUTH_FAILURES_PER_MINUTE it gets 429 without its key being compared, so
 * keys cannot be brute-forced.
 */
export function createAuthenticator(deps: AuthDeps) {
  const { config, buckets, clock, metrics } = deps;
  const adminSecret = config.apiKey === undefined ? undefined : digest(config.apiKey);
  const ingestSecret = config.ingestKey === undefined ? undefined : digest(config.ingestKey);
  const metricsSecret = config.metricsToken === undefined ? undefined : digest(config.metricsToken);
  const failureLimits = {
    capacity: config.authFailuresPerMinute,
    refillPerMinute: config.authFailuresPerMinute,
  };

  async function check(
    request: FastifyRequest,
    secret: Buffer | undefined,
    headerName: string,
  ): Promise<void> {
    if (secret === undefined) return;
    const key = `authfail:${request.ip}`;
    const budget = await buckets.peek(key, failureLimits, clock.now());
    if (!budget.allowed) {
      metrics.countRateLimitHit('auth');
      throw new AppError('rate_limited', 'Too many failed authentication attempts', {
        'retry-after': String(Math.max(1, Math.ceil(budget.retryAfterMs / 1000))),
      });
    }
    if (secretMatches(header(request, headerName), secret)) return;
    if (headerName === 'x-api-key' && acceptsMetricsToken(request)) return;
    await buckets.take(key, failureLimits, clock.now());
    const label = headerName === 'x-api-key' ? 'X-API-Key' : 'X-Ingest-Key';
    throw new AppError('unauthorized', `Invalid or missing ${label}`);
  }

  function acceptsMetricsToken(request: FastifyRequest): boolean {
    if (metricsSecret === undefined || request.routeOptions.config.auth !== 'metrics') return false;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header(request, 'authorization') ?? '');
    return secretMatches(match?.[1], metricsSecret);
  }

  return {
    /** True when admin routes need no key (development without API_KEY). */
    adminOpen: adminSecret === undefined,
    admin: (request: FastifyRequest) => check(request, adminSecret, 'x-api-key'),
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
