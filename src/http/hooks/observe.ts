import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import { createSecretScrubber } from '../../lib/scrub-secrets.js';
import type { Metrics } from '../../metrics/metrics.js';

/** Header and field paths pino replaces with "[redacted]" wherever they appear in a log object. */
export const LOG_REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers["x-ingest-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers["x-api-key"]',
  'headers["x-ingest-key"]',
  'headers.authorization',
  'headers.cookie',
  '*.apiKey',
  '*.ingestKey',
  '*.metricsToken',
];

/**
 * Fastify's logger options: JSON lines at LOG_LEVEL, with secrets kept out twice over. Known secret
 * fields are redacted by path, and the configured key values themselves are scrubbed from every
 * line before it is written, wherever they turn up (a key pasted into a query string or a body),
 * percent-encoded or not (src/lib/scrub-secrets.ts).
 */
export function loggerOptions(config: {
  logLevel: string;
  apiKey?: string | undefined;
  ingestKey?: string | undefined;
  metricsToken?: string | undefined;
}) {
  const scrub = createSecretScrubber([config.apiKey, config.ingestKey, config.metricsToken]);
  return {
    level: config.logLevel,
    redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
    hooks: { streamWrite: scrub },
  };
}

/** Request ids: a random per-process prefix and a counter; unique, cheap, safe to log. */
export function createRequestIdGenerator(): () => string {
  const prefix = randomBytes(4).toString('hex');
  let counter = 0;
  return () => {
    counter = (counter + 1) % 0x1000000;
    return `${prefix}${counter.toString(16).padStart(6, '0')}`;
  };
}

/**
 * Per-request bookkeeping: X-Request-Id, Cache-Control: no-store on JSON, latency and status
 * metrics by route pattern, and an access log that does not cost throughput: every 4xx/5xx is
 * logged, successful requests only at `sampleRate` (logging each one cost a third of ingest
 * throughput in the benchmark).
 */
export function registerObservability(
  app: FastifyInstance,
  deps: { metrics: Metrics; sampleRate: number },
): void {
  // Callback-style hooks: they run on every request, and an async hook costs a promise each time.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('application/json'))
      reply.header('cache-control', 'no-store');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const durationMs = reply.elapsedTime;
    deps.metrics.recordRequest(route, reply.statusCode, durationMs, request.method);
    if (reply.statusCode >= 400 || (deps.sampleRate > 0 && Math.random() < deps.sampleRate)) {
      request.log.info(
        {
          method: request.method,
          url: request.url,
          statusCode: reply.statusCode,
          ms: Math.round(durationMs * 10) / 10,
        },
        'request',
      );
    }
    done();
  });
}

type LogMethod = (...args: unknown[]) => void;
type ChildLoggerFactory = NonNullable<FastifyServerOptions['childLoggerFactory']>;
type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

/**
 * A request's child logger, made on first use. Fastify gives every request a child carrying its
 * request id; pino builds a child by serialising and redacting its bindings, about 2.5% of
 * ingest's CPU (docs/adr/009-request-logging.md), and with the sampled access log almost no request logs at all.
 */
class RequestLogger implements FastifyBaseLogger {
  #made: FastifyBaseLogger | undefined;
  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get made(): FastifyBaseLogger {
    this.#made ??= this.parent.child(this.bindings, this.options);
    return this.#made;
  }

  get level(): string {
    return this.#made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.made.level = level;
  }

  fatal(...args: unknown[]): void {
    (this.made.fatal as LogMethod)(...args);
  }
  error(...args: unknown[]): void {
    (this.made.error as LogMethod)(...args);
  }
  warn(...args: unknown[]): void {
    (this.made.warn as LogMethod)(...args);
  }
  info(...args: unknown[]): void {
    (this.made.info as LogMethod)(...args);
  }
  debug(...args: unknown[]): void {
    (this.made.debug as LogMethod)(...args);
  }
  trace(...args: unknown[]): void {
    (this.made.trace as LogMethod)(...args);
  }
  silent(...args: unknown[]): void {
    (this.made.silent as LogMethod)(...args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.made.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: request loggers that cost nothing until something is logged. */
export const requestLoggerFactory: ChildLoggerFactory = (logger, bindings, options) =>
  new RequestLogger(logger, bindings, options);
