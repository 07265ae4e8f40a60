import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type AlertMonitor, createAlertMonitor } from './budgets/alert-monitor.js';
import { createAlertSender } from './budgets/alert-sender.js';
import { createBudgetService } from './budgets/budget-service.js';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import type { HttpDeps } from './http/deps.js';
import { createClientErrorHandler, registerErrorHandling, sendFrameworkError } from './http/error-handler.js';
import { createAuthenticator } from './http/hooks/auth.js';
import { registerBodyBudget } from './http/hooks/body-budget.js';
import { registerJsonBodyParser } from './http/hooks/json-body.js';
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
import { openBucketStore, watchBucketStore } from './ratelimit/open-bucket-store.js';
import { type DriftAlertSink, logDriftAlerts } from './reports/drift-alerts.js';
import { createReportSync } from './reports/report-sync.js';
import { createPriceBook, loadPriceFile, type PriceFile } from './repricing/price-book.js';
import { createRepriceService } from './repricing/reprice-service.js';
import type { Store, WriteState } from './storage/store.js';

export interface AppDeps {
  config: Config;
  store: Store;
  clock?: Clock;
  /** Default: Node's timers. Give a manual clock here too, so that tests move time for both. */
  timers?: Timers;
  pricer?: Pricer;
  /** Overrides file already loaded; default: loaded from config.pricesFile (throws PriceFileError). */
  priceFile?: PriceFile | null;
  /** Default: opened from the config (Redis or memory) and closed with the app. */
  buckets?: BucketStore;
  metrics?: Metrics;
  /** A pino-compatible logger; default: Fastify's pino at config.logLevel. */
  logger?: FastifyBaseLogger;
  /** Provider report pulls: where drift alerts go (default: logged and counted), and for tests the waits and fetch. */
  reports?: { drift?: DriftAlertSink; sleep?: (ms: number) => Promise<void>; fetch?: typeof fetch };
}

export type App = FastifyInstance & { deps: HttpDeps };

/** Stored override entries this build cannot use are skipped, never fatal: say so loudly instead. */
function warnRefusedOverrides(log: FastifyBaseLogger, refused: readonly string[], metrics: Metrics): void {
  metrics.prometheus.setRefusedPriceOverrides(refused.length);
  for (const message of refused) log.warn({ refusedPriceOverride: message }, message);
  if (refused.length > 0) {
    log.warn(
      `${refused.length} stored price-override entries are skipped; PUT /prices/overrides a corrected document (GET /prices/overrides shows them)`,
    );
  }
}

/** Wires the service together. Never listens: main.ts does, and tests use app.inject. */
export async function buildApp(input: AppDeps): Promise<App> {
  const { config, store } = input;
  const clock = input.clock ?? systemClock;
  const timers = input.timers ?? systemTimers;
  const metrics = input.metrics ?? new Metrics();
  const priceFile = input.priceFile ?? (config.pricesFile ? loadPriceFile(config.pricesFile) : null);
  const prices = await createPriceBook({ store, clock, file: priceFile });
  const pricer = input.pricer ?? prices.pricer;
  const reprice = createRepriceService({ store, prices, clock, defaultProvider: config.defaultProvider });
  const buckets = input.buckets ?? (await openBucketStore(config));
  const ingest = createIngestService({ config, store, pricer, buckets, clock, metrics });
  const authenticate = createAuthenticator({ config, buckets, clock, metrics, sessions: store });
  const budgets = createBudgetService({ store, clock });
  const sender = createAlertSender({
    store,
    clock,
    publicUrl: config.publicUrl,
    forecastFor: async (id) => {
      const budget = await store.budgets.get(id);
      const window = (await store.budgets.windowStates(clock.now())).find((state) => state.budgetId === id);
      return budget && window ? budgets.forecastOf(budget, window) : null;
    },
    onError: (error) => app.log.warn({ err: error }, 'alert delivery failed'),
  });
  const alerts = createAlertMonitor({
    store,
    clock,
    budgets,
    sender,
    onError: (error, step) => app.log.warn({ err: error, step }, 'alert rule failed'),
  });
  const deps: Omit<HttpDeps, 'reports'> & Partial<Pick<HttpDeps, 'reports'>> = {
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
    budgets,
    alerts,
  };

  const nextRequestId = createRequestIdGenerator();
  const app = Fastify({
    ...(input.logger ? { loggerInstance: input.logger } : { logger: loggerOptions(config) }),
    // The access log is ours (hooks/observe.ts): sampled, so that it does not cost throughput.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: requestLoggerFactory,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    genReqId: nextRequestId,
    // Slow clients: a request must arrive whole within these limits, or it is answered 408 and its
    // connection closed (Node's defaults are 60 s and 300 s; Fastify turns the second off).
    requestTimeout: config.requestTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // Node checks the limits every 30 s by default, which would let a stalled request live that
      // much longer than REQUEST_TIMEOUT_MS.
      connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(config.headersTimeoutMs / 4))),
    },
    clientErrorHandler: createClientErrorHandler(nextRequestId),
    return503OnClosing: true,
    schemaErrorFormatter: (errors) => new Error(describeValidationErrors(errors)),
    frameworkErrors: sendFrameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (!input.buckets) {
    watchBucketStore(
      buckets,
      app.log,
      (up) => metrics.recordRateLimitStore(up),
      config.redis?.failureMode ?? '',
    );
    app.addHook('onClose', () => buckets.close());
  }

  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? bodyAjv.compile(schema) : textAjv.compile(schema),
  );
  // Only JSON bodies are accepted: any other Content-Type is a 415 (Fastify also parses text/plain).
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);
  app.addSchema(ErrorBody);
  registerErrorHandling(app);
  registerObservability(app, { metrics, sampleRate: config.requestLogSampleRate });
  const bodyBudget = registerBodyBudget(app, {
    limitBytes: config.bodyBudgetBytes,
    bodyLimitBytes: config.bodyLimitBytes,
    metrics,
  });
  metrics.prometheus.watchBodyBytes(() => bodyBudget.inFlightBytes);

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

  const logged = logDriftAlerts(app.log, (provider) => metrics.prometheus.countProviderDrift(provider));
  deps.reports = createReportSync({
    config,
    store,
    pricer,
    clock,
    log: app.log,
    drift: input.reports?.drift ?? alertOnDrift(logged, alerts, app.log),
    sleep: input.reports?.sleep,
    fetch: input.reports?.fetch,
  });

  await app.register(cookie);
  const limitAdmin = createAdminRateLimiter({ config, buckets, clock, metrics, sessions: store });
  app.addHook('onRequest', async (request, reply) => {
    const auth = request.routeOptions.config.auth;
    if (auth === 'ingest') return authenticate.ingest(request);
    await limitAdmin(request, reply);
    if (auth === 'admin' || auth === 'metrics') await authenticate.admin(request);
  });

  app.addHook('onClose', () => alerts.stop());
  await registerRoutes(app, deps as HttpDeps);
  warnRefusedOverrides(app.log, prices.refused(), metrics);
  const unwatch = watchWriteState({ store, metrics, clock, log: app.log, config });
  app.addHook('onClose', async () => unwatch());
  return Object.assign(app, { deps }) as unknown as App;
}

/**
 * Logs each episode of refused writes (locked, disk full, failed) once when it starts and once
 * when it ends, however many requests it refused (those answer 503 without an error log line),
 * and keeps the Prometheus write-state gauge current.
 */
/** Drift from provider reports is logged and counted, and goes to the alert channels like budget alerts. */
function alertOnDrift(logged: DriftAlertSink, alerts: AlertMonitor, log: FastifyBaseLogger): DriftAlertSink {
  return {
    async emit(event) {
      await logged.emit(event);
      await alerts
        .recordDrift(event)
        .catch((error: unknown) => log.warn({ err: error }, 'the drift alert could not be recorded'));
    },
  };
}

function watchWriteState(deps: {
  store: Store;
  metrics: Metrics;
  clock: Clock;
  log: FastifyBaseLogger;
  config: Config;
}): () => void {
  const { store, metrics, clock, log, config } = deps;
  let episode: { state: WriteState; startedAt: number } | undefined;
  return store.onWriteStateChange((state) => {
    metrics.prometheus.observeWriteState(state);
    if (state === 'ok') {
      if (episode) {
        const seconds = Math.round((clock.now() - episode.startedAt) / 100) / 10;
        log.info(
          { writeState: state, after: episode.state, seconds },
          `database writes resumed after ${seconds} s (${episode.state})`,
        );
      }
      episode = undefined;
      return;
    }
    episode = { state, startedAt: episode?.startedAt ?? clock.now() };
    if (state === 'locked')
      log.warn(
        { writeState: state, waitMs: config.dbLockWaitMs },
        `database writes refused: another process has held the write lock for ${config.dbLockWaitMs} ms (DB_LOCK_WAIT_MS); writes answer 503 unavailable until it is released`,
      );
    else if (state === 'full')
      log.error(
        { writeState: state, database: config.dbPath },
        `database writes refused: the disk holding ${config.dbPath} is full; writes answer 503 storage_full until space is freed, then resume by themselves`,
      );
    else
      log.error(
        { writeState: state },
        'database writes stopped: a sync to disk failed, so later writes could not be called durable; restart the service',
      );
  });
}
