import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import type { HttpDeps } from './http/deps.js';
import { registerErrorHandling, sendFrameworkError } from './http/error-handler.js';
import { createAuthenticator } from './http/hooks/auth.js';
import {
  createRequestIdGenerator,
  loggerOptions,
  registerObservability,
  requestLoggerFactory,
} from './http/hooks/observe.js';
import { createAdminRateLimiter } from './http/hooks/rate-limit.js';
import { registerRoutes } from './http/routes.js';
import { ErrorBody } from './http/schemas.js';
import { createIngestService } from './ingest/ingest-service.js';
import { type Clock, systemClock, systemTimers, type Timers } from './lib/clock.js';
import { bodyAjv, describeValidationErrors, textAjv } from './lib/validator.js';
import { Metrics } from './metrics/metrics.js';
import type { Pricer } from './pricing/types.js';
import type { BucketStore } from './ratelimit/bucket-store.js';
import { MemoryBucketStore } from './ratelimit/memory-bucket-store.js';
import { createPriceBook, loadPriceFile, type PriceFile } from './repricing/price-book.js';
import { createRepriceService } from './repricing/reprice-service.js';
import type { Store } from './storage/store.js';

export interface AppDeps {
  config: Config;
  store: Store;
  clock?: Clock;
  /** Default: Node's timers. Give a manual clock here too, so that tests move time for both. */
  timers?: Timers;
  pricer?: Pricer;
  /** Overrides file already loaded; default: loaded from config.pricesFile (throws PriceFileError). */
  priceFile?: PriceFile | null;
  buckets?: BucketStore;
  metrics?: Metrics;
  /** A pino-compatible logger; default: Fastify's pino at config.logLevel. */
  logger?: FastifyBaseLogger;
}

export type App = FastifyInstance & { deps: HttpDeps };

/** Wires the service together. Never listens: main.ts does, and tests use app.inject. */
export async function buildApp(input: AppDeps): Promise<App> {
  const { config, store } = input;
  const clock = input.clock ?? systemClock;
  const timers = input.timers ?? systemTimers;
  const metrics = input.metrics ?? new Metrics();
  const buckets = input.buckets ?? new MemoryBucketStore();
  const priceFile = input.priceFile ?? (config.pricesFile ? loadPriceFile(config.pricesFile) : null);
  const prices = await createPriceBook({ store, clock, file: priceFile });
  const pricer = input.pricer ?? prices.pricer;
  const reprice = createRepriceService({ store, prices, clock });
  const ingest = createIngestService({ config, store, pricer, buckets, clock, metrics });
  const authenticate = createAuthenticator({ config, buckets, clock, metrics, sessions: store });
  const deps: HttpDeps = {
    config,
    store,
    clock,
    timers,
    pricer,
    buckets,
    metrics,
    ingest,
    prices,
    reprice,
    authenticate,
  };

  const app = Fastify({
    ...(input.logger ? { loggerInstance: input.logger } : { logger: loggerOptions(config) }),
    // The access log is ours (hooks/observe.ts): sampled, so that it does not cost throughput.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: requestLoggerFactory,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    genReqId: createRequestIdGenerator(),
    return503OnClosing: true,
    schemaErrorFormatter: (errors) => new Error(describeValidationErrors(errors)),
    frameworkErrors: sendFrameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? bodyAjv.compile(schema) : textAjv.compile(schema),
  );
  // Only JSON bodies are accepted: any other Content-Type is a 415 (Fastify also parses text/plain).
  app.removeContentTypeParser('text/plain');
  app.addSchema(ErrorBody);
  registerErrorHandling(app);
  registerObservability(app, { metrics, sampleRate: config.requestLogSampleRate });

  if (config.allowedOrigins.length > 0) {
    // @fastify/cors refuses an OPTIONS without Origin or Access-Control-Request-Method with a
    // text/plain 400; refuse it first, with the same status, in the one error shape.
    app.addHook('onRequest', async (request) => {
      if (request.method !== 'OPTIONS') return;
      if (!request.headers.origin || !request.headers['access-control-request-method']) {
        throw new AppError(
          'invalid_request',
          'A CORS preflight (OPTIONS) needs the Origin and Access-Control-Request-Method headers',
        );
      }
    });
    await app.register(cors, {
      origin: [...config.allowedOrigins],
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'X-API-Key', 'X-Ingest-Key'],
      exposedHeaders: [
        'X-Request-Id',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
        'Retry-After',
      ],
      maxAge: 600,
    });
  }

  await app.register(cookie);
  const limitAdmin = createAdminRateLimiter({ config, buckets, clock, metrics });
  app.addHook('onRequest', async (request, reply) => {
    const auth = request.routeOptions.config.auth;
    if (auth === 'ingest') return authenticate.ingest(request);
    await limitAdmin(request, reply);
    if (auth === 'admin' || auth === 'metrics') await authenticate.admin(request);
  });

  await registerRoutes(app, deps);
  return Object.assign(app, { deps }) as unknown as App;
}
