import path from 'node:path';

/**
 * The only module that reads the environment. `loadConfig(env)` parses every variable once,
 * collects every problem, and either returns a frozen Config or throws a ConfigError listing them
 * all. CONFIG_VARS is the schema: docs/config.md and .env.example are checked against it by a test.
 */

export type Mode = 'development' | 'production';

export interface Config {
  readonly mode: Mode;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly dbPath: string;
  /** Admin key; undefined means the admin API is open (development only). */
  readonly apiKey: string | undefined;
  /** Ingest key; undefined means ingest is open (development only). */
  readonly ingestKey: string | undefined;
  /** Bearer token that lets a scraper read /metrics/prometheus without the admin key. */
  readonly metricsToken: string | undefined;
  readonly allowedOrigins: readonly string[];
  readonly trustProxy: boolean;
  readonly rateLimit: {
    readonly ratePerMinute: number;
    readonly burst: number;
    readonly exemptPaths: readonly string[];
  };
  readonly ingestRateLimit: { readonly ratePerMinute: number; readonly burst: number };
  /** Failed admin/ingest key attempts allowed per client IP (burst; refills per minute). */
  readonly authFailuresPerMinute: number;
  /** Shared rate-limit buckets; undefined means in-process buckets. See docs/deploy.md. */
  readonly redis:
    | {
        readonly url: string;
        readonly keyPrefix: string;
        readonly timeoutMs: number;
        readonly failureMode: 'local' | 'open';
      }
    | undefined;
  readonly defaultProvider: string;
  /** User price overrides (YAML or JSON); undefined means none. See docs/pricing.md. */
  readonly pricesFile: string | undefined;
  /** Kept only so old .env files still parse; see docs/config.md. */
  readonly openaiModel: string | undefined;
  readonly trackingTokenLength: number;
  readonly bodyLimitBytes: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Share of successful requests that get an access-log line (errors are always logged). */
  readonly requestLogSampleRate: number;
  /** How long an analytics question the rollups cannot answer may scan usage rows (then 503). */
  readonly scanTimeoutMs: number;
  /** How long a write waits (asynchronously) for a write lock held by another process (then 503). */
  readonly dbLockWaitMs: number;
  /** Longest a client may take to send a request's headers (then 408 and the connection closes). */
  readonly headersTimeoutMs: number;
  /** Longest a client may take to send a whole request, headers and body (then 408). */
  readonly requestTimeoutMs: number;
  /** Request-body bytes being received at once, across all connections, before new bodies get 503. */
  readonly bodyBudgetBytes: number;
  /** The dashboard's address as others reach it, for links in alerts (no trailing slash). */
  readonly publicUrl: string;
  /** Provider usage and cost reports (src/reports/); a provider without an admin key is not pulled. */
  readonly providerReports: ProviderReportsConfig;
}

export interface AdminApiConfig {
  /** Not enumerable: JSON.stringify and loggers never see it. Undefined: this provider is not pulled. */
  readonly adminKey: string | undefined;
  readonly baseUrl: string;
}

export interface ProviderReportsConfig {
  readonly openai: AdminApiConfig;
  readonly anthropic: AdminApiConfig;
  readonly syncIntervalMs: number;
  readonly backfillDays: number;
  /** A (day, model) drift is alerted when it is past both thresholds. */
  readonly driftAlertPercent: number;
  readonly driftAlertMinNanoUsd: number;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  /**
   * Set in the container image (IN_CONTAINER): where `serve` answers 503 instead of exiting, since
   * an exit would only be restarted, with the same configuration, by compose's restart policy.
   */
  readonly container: { host: string; port: number } | undefined;
  constructor(problems: string[], container?: { host: string; port: number }) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.container = container;
  }
}

export interface ConfigVar {
  name: string;
  /** Default as written in docs and .env.example ('' = unset). */
  default: string;
  unit: string;
  description: string;
}

/** Every variable the service reads, in the order docs/config.md lists them. */
export const CONFIG_VARS: readonly ConfigVar[] = [
  {
    name: 'ENV',
    default: 'development',
    unit: 'development | production',
    description: 'Run mode. Production refuses to start without API_KEY and INGEST_KEY.',
  },
  {
    name: 'IN_CONTAINER',
    default: 'false',
    unit: 'boolean',
    description:
      'Set by the container image: configuration errors then say what to put in .env, and `serve` answers 503 instead of exiting into a restart loop.',
  },
  {
    name: 'HOST',
    default: '',
    unit: 'address',
    description:
      'Bind address. Default 0.0.0.0, except development without API_KEY, which binds 127.0.0.1 only.',
  },
  { name: 'SERVER_PORT', default: '5001', unit: 'port', description: 'HTTP port.' },
  {
    name: 'DATA_DIR',
    default: './data',
    unit: 'path',
    description: 'Directory for the SQLite database (created if missing).',
  },
  {
    name: 'DB_FILENAME',
    default: 'usage_log.sqlite',
    unit: 'file name',
    description: 'Database file name inside DATA_DIR.',
  },
  {
    name: 'DB_PATH',
    default: '',
    unit: 'path',
    description: 'Full database path; overrides DATA_DIR and DB_FILENAME.',
  },
  {
    name: 'API_KEY',
    default: '',
    unit: 'secret (24+ characters in production)',
    description:
      'Admin key, sent as X-API-Key. Unset in development means the admin API is open (and bound to 127.0.0.1).',
  },
  {
    name: 'INGEST_KEY',
    default: '',
    unit: 'secret (24+ characters in production)',
    description: 'Ingest key, sent as X-Ingest-Key. Unset in development means ingest accepts any caller.',
  },
  {
    name: 'METRICS_TOKEN',
    default: '',
    unit: 'secret (16+ characters)',
    description:
      'Lets a Prometheus scraper read /metrics/prometheus with "Authorization: Bearer <token>". Unset: that page needs X-API-Key.',
  },
  {
    name: 'ALLOWED_ORIGINS',
    default: '',
    unit: 'comma list of origins',
    description: 'Browser origins allowed cross-origin access. Empty means none (no CORS headers).',
  },
  {
    name: 'TRUST_PROXY',
    default: 'false',
    unit: 'boolean',
    description: 'Take the client IP from X-Forwarded-For (set only behind a reverse proxy you control).',
  },
  {
    name: 'RATE_LIMIT_RPM',
    default: '60',
    unit: 'requests per minute',
    description: 'Admin API refill rate, per client IP; a signed-in dashboard session has its own bucket.',
  },
  {
    name: 'RATE_LIMIT_BURST',
    default: '',
    unit: 'requests',
    description: 'Admin API bucket capacity. Default: RATE_LIMIT_RPM.',
  },
  {
    name: 'RATE_LIMIT_EXEMPT',
    default: '/ping,/health,/dashboard',
    unit: 'comma list of paths',
    description: 'Paths (and their sub-paths) the admin limiter skips.',
  },
  {
    name: 'INGEST_RPM',
    default: '6000',
    unit: 'records per minute',
    description:
      'Ingest refill rate, per tracking token (each record counts, in a batch too). Independent of RATE_LIMIT_RPM.',
  },
  {
    name: 'INGEST_BURST',
    default: '',
    unit: 'records',
    description: 'Ingest bucket capacity, per tracking token. Default: INGEST_RPM (one minute of records).',
  },
  {
    name: 'AUTH_FAILURES_PER_MINUTE',
    default: '10',
    unit: 'attempts per minute',
    description:
      'Wrong or missing keys allowed per client IP before 429, admin and ingest counted apart. A correct ingest key is never refused (docs/adr/010).',
  },
  {
    name: 'REDIS_URL',
    default: '',
    unit: 'redis:// or rediss:// URL',
    description:
      'Redis that holds the rate-limit buckets, shared by every instance. Unset: buckets live in this process (one instance). docs/deploy.md.',
  },
  {
    name: 'REDIS_KEY_PREFIX',
    default: 'cg:',
    unit: 'text',
    description: 'Put before every Redis key, so several deployments can share one Redis.',
  },
  {
    name: 'REDIS_TIMEOUT_MS',
    default: '250',
    unit: 'milliseconds (10-10000)',
    description:
      'Longest wait for one Redis command; past it (or when Redis is unreachable) RATE_LIMIT_REDIS_FAILURE applies.',
  },
  {
    name: 'RATE_LIMIT_REDIS_FAILURE',
    default: 'local',
    unit: 'local | open',
    description:
      'While Redis is unreachable: "local" keeps buckets per instance (N instances let through up to N times the limit), "open" allows every request. Failed-key lockouts always stay local.',
  },
  {
    name: 'PROVIDER',
    default: 'openai',
    unit: 'provider id',
    description: 'Provider assumed for ingest records that do not name one.',
  },
  {
    name: 'PRICES_FILE',
    default: '',
    unit: 'path (YAML or JSON)',
    description:
      'User price overrides, read at startup; a bad entry stops startup naming it. Format and precedence: docs/pricing.md.',
  },
  {
    name: 'OPENAI_MODEL',
    default: '',
    unit: 'model id',
    description: 'Unused; accepted so old .env files keep working. Each record is priced by its own model.',
  },
  {
    name: 'TRACKING_TOKEN_LENGTH',
    default: '22',
    unit: 'characters (16-64)',
    description: 'Length of generated tracking tokens.',
  },
  {
    name: 'BODY_LIMIT_BYTES',
    default: '1048576',
    unit: 'bytes',
    description: 'Largest accepted request body (413 above it).',
  },
  {
    name: 'LOG_LEVEL',
    default: 'info',
    unit: 'fatal|error|warn|info|debug|trace|silent',
    description: 'Log level.',
  },
  {
    name: 'REQUEST_LOG_SAMPLE_RATE',
    default: '0.01',
    unit: '0..1',
    description: 'Share of successful requests logged; every 4xx/5xx is logged.',
  },
  {
    name: 'SCAN_TIMEOUT_SECONDS',
    default: '30',
    unit: 'seconds (1-3600)',
    description:
      'How long an analytics question the rollups cannot answer may scan usage rows before it is stopped (503 `unavailable`).',
  },
  {
    name: 'DB_LOCK_WAIT_MS',
    default: '2000',
    unit: 'milliseconds (0-60000)',
    description:
      'How long a write waits for the database write lock while another process holds it (without blocking other requests) before it is answered 503 `unavailable`.',
  },
  {
    name: 'HEADERS_TIMEOUT_MS',
    default: '10000',
    unit: 'milliseconds (100-600000)',
    description:
      'Longest a client may take to send the headers of a request; then 408 `request_timeout` and the connection is closed.',
  },
  {
    name: 'REQUEST_TIMEOUT_MS',
    default: '30000',
    unit: 'milliseconds (100-3600000)',
    description:
      'Longest a client may take to send a whole request, headers and body; then 408 `request_timeout` and the connection is closed. At least HEADERS_TIMEOUT_MS.',
  },
  {
    name: 'BODY_BUDGET_BYTES',
    default: '67108864',
    unit: 'bytes (at least BODY_LIMIT_BYTES)',
    description:
      'Request-body bytes held at once across all connections (received, not yet answered). A body that would go past it is answered 503 `unavailable` with Retry-After.',
  },
  {
    name: 'PUBLIC_URL',
    default: '',
    unit: 'URL',
    description:
      'Where people reach this service, e.g. https://costs.example.com; used for dashboard links in alerts. Default: http://localhost:SERVER_PORT.',
  },
  {
    name: 'OPENAI_ADMIN_KEY',
    default: '',
    unit: 'secret (sk-admin-...)',
    description:
      'OpenAI admin key: pulls the organization usage and costs reports (docs/provider-reports.md). Never logged or returned.',
  },
  {
    name: 'OPENAI_ADMIN_BASE_URL',
    default: 'https://api.openai.com/v1',
    unit: 'URL',
    description: 'Where the OpenAI admin API is (change only for a proxy or a test server).',
  },
  {
    name: 'ANTHROPIC_ADMIN_KEY',
    default: '',
    unit: 'secret (sk-ant-admin...)',
    description:
      'Anthropic admin key: pulls the usage and cost reports (docs/provider-reports.md). Never logged or returned.',
  },
  {
    name: 'ANTHROPIC_ADMIN_BASE_URL',
    default: 'https://api.anthropic.com',
    unit: 'URL',
    description: 'Where the Anthropic admin API is (change only for a proxy or a test server).',
  },
  {
    name: 'REPORTS_SYNC_MINUTES',
    default: '60',
    unit: 'minutes (5-1440)',
    description: 'How often provider reports are pulled (incrementally) when an admin key is set.',
  },
  {
    name: 'REPORTS_BACKFILL_DAYS',
    default: '30',
    unit: 'days (1-365)',
    description: 'How far back the first pull of provider reports goes.',
  },
  {
    name: 'DRIFT_ALERT_PERCENT',
    default: '10',
    unit: 'percent (1-1000)',
    description:
      'A drift alert is raised for a day and model whose tracked cost differs from the provider-reported cost by more than this share of it, and by more than DRIFT_ALERT_MIN_USD.',
  },
  {
    name: 'DRIFT_ALERT_MIN_USD',
    default: '1',
    unit: 'US dollars',
    description:
      'The smallest difference between tracked and provider-reported cost that raises a drift alert.',
  },
];

/** Shortest API_KEY / INGEST_KEY accepted when ENV=production. */
export const MIN_PRODUCTION_KEY_LENGTH = 24;

/** Records a minute per tracking token when INGEST_RPM is unset; docs/config.md says why. */
export const DEFAULT_INGEST_RPM = 6000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };

  const list = (name: string, fallback: string): string[] =>
    (read(name) ?? fallback)
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');

  const rawMode = (read('ENV') ?? 'development').toLowerCase();
  let mode: Mode = 'development';
  if (rawMode === 'production' || rawMode === 'prod') mode = 'production';
  else if (rawMode !== 'development' && rawMode !== 'dev') {
    problems.push(`ENV must be "development" or "production" (got "${rawMode}")`);
  }

  const apiKey = read('API_KEY');
  const ingestKey = read('INGEST_KEY');
  if (mode === 'production') {
    if (!apiKey)
      problems.push('API_KEY is required when ENV=production: it protects the admin API and dashboard');
    if (!ingestKey)
      problems.push('INGEST_KEY is required when ENV=production: it authenticates POST /ingest');
    // A correct ingest key is let through the failed-key lockout (docs/operations.md), so in
    // production a key's length, not the lockout, is what stops guessing.
    for (const [name, key] of [
      ['API_KEY', apiKey],
      ['INGEST_KEY', ingestKey],
    ] as const) {
      if (key !== undefined && key.length < MIN_PRODUCTION_KEY_LENGTH)
        problems.push(
          `${name} must be at least ${MIN_PRODUCTION_KEY_LENGTH} characters when ENV=production (got ${key.length}): use a random key, e.g. the output of "openssl rand -base64 32"`,
        );
    }
  }

  const metricsToken = read('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16)
    problems.push('METRICS_TOKEN must be at least 16 characters (it is a password for the metrics page)');

  const port = integer('SERVER_PORT', 5001, 0, 65_535);
  const dataDir = path.resolve(cwd, read('DATA_DIR') ?? 'data');
  const dbFilename = read('DB_FILENAME') ?? 'usage_log.sqlite';
  if (dbFilename.includes('/'))
    problems.push(
      `DB_FILENAME must be a file name, not a path (got "${dbFilename}"); use DB_PATH for a path`,
    );
  const dbPathRaw = read('DB_PATH');
  const dbPath = dbPathRaw ? path.resolve(cwd, dbPathRaw) : path.join(dataDir, dbFilename);

  const ratePerMinute = integer('RATE_LIMIT_RPM', 60, 1, 1_000_000_000);
  const burst = integer('RATE_LIMIT_BURST', ratePerMinute, 1, 1_000_000_000);
  // Not RATE_LIMIT_*: the admin limit is for people and scripts, ingest for a busy app's calls.
  const ingestRate = integer('INGEST_RPM', DEFAULT_INGEST_RPM, 1, 1_000_000_000);
  const ingestBurst = integer('INGEST_BURST', ingestRate, 1, 1_000_000_000);

  const exemptPaths = list('RATE_LIMIT_EXEMPT', '/ping,/health,/dashboard');
  for (const exempt of exemptPaths) {
    if (!exempt.startsWith('/'))
      problems.push(`RATE_LIMIT_EXEMPT entries must start with "/" (got "${exempt}")`);
  }

  const allowedOrigins = list('ALLOWED_ORIGINS', '');
  for (const origin of allowedOrigins) {
    if (origin === '*') {
      problems.push(
        'ALLOWED_ORIGINS must list origins; "*" is not accepted (it would expose the admin API to any web page)',
      );
      continue;
    }
    try {
      const url = new URL(origin);
      if (url.origin !== origin.replace(/\/$/, '')) throw new Error('not an origin');
    } catch {
      problems.push(`ALLOWED_ORIGINS entries must be origins like https://app.example.com (got "${origin}")`);
    }
  }

  const trustProxyRaw = (read('TRUST_PROXY') ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0', 'yes', 'no'].includes(trustProxyRaw)) {
    problems.push(`TRUST_PROXY must be true or false (got "${trustProxyRaw}")`);
  }

  const trackingTokenLength = integer('TRACKING_TOKEN_LENGTH', 22, 16, 64);
  const bodyLimitBytes = integer('BODY_LIMIT_BYTES', 1_048_576, 1024, 64 * 1_048_576);
  const authFailuresPerMinute = integer('AUTH_FAILURES_PER_MINUTE', 10, 1, 1_000_000);
  const scanTimeoutSeconds = integer('SCAN_TIMEOUT_SECONDS', 30, 1, 3600);
  const dbLockWaitMs = integer('DB_LOCK_WAIT_MS', 2000, 0, 60_000);
  const headersTimeoutMs = integer('HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  const requestTimeoutMs = integer('REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs)
    problems.push(
      `REQUEST_TIMEOUT_MS (${requestTimeoutMs}) must be at least HEADERS_TIMEOUT_MS (${headersTimeoutMs}): it covers the headers and the body`,
    );
  const bodyBudgetBytes = integer('BODY_BUDGET_BYTES', 64 * 1_048_576, 1024, 2 ** 40);
  if (bodyBudgetBytes < bodyLimitBytes)
    problems.push(
      `BODY_BUDGET_BYTES (${bodyBudgetBytes}) must be at least BODY_LIMIT_BYTES (${bodyLimitBytes}), or a body of the largest allowed size could never be received`,
    );

  const redisUrl = read('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl))
    problems.push(
      `REDIS_URL must be a redis:// or rediss:// URL, like redis://127.0.0.1:6379 (got "${redisUrl}")`,
    );
  const redisTimeoutMs = integer('REDIS_TIMEOUT_MS', 250, 10, 10_000);
  const redisFailure = (read('RATE_LIMIT_REDIS_FAILURE') ?? 'local').toLowerCase();
  if (redisFailure !== 'local' && redisFailure !== 'open')
    problems.push(`RATE_LIMIT_REDIS_FAILURE must be "local" or "open" (got "${redisFailure}")`);

  const logLevel = (read('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }

  const sampleRaw = read('REQUEST_LOG_SAMPLE_RATE') ?? '0.01';
  const requestLogSampleRate = Number(sampleRaw);
  if (!/^\d*\.?\d+$/.test(sampleRaw) || requestLogSampleRate > 1) {
    problems.push(`REQUEST_LOG_SAMPLE_RATE must be a number from 0 to 1 (got "${sampleRaw}")`);
  }

  const defaultProvider = (read('PROVIDER') ?? 'openai').toLowerCase();
  if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(defaultProvider)) {
    problems.push(`PROVIDER must be a provider id like "openai" (got "${defaultProvider}")`);
  }

  const pricesFileRaw = read('PRICES_FILE');
  const pricesFile = pricesFileRaw ? path.resolve(cwd, pricesFileRaw) : undefined;

  const inContainerRaw = (read('IN_CONTAINER') ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0', 'yes', 'no'].includes(inContainerRaw)) {
    problems.push(`IN_CONTAINER must be true or false (got "${inContainerRaw}")`);
  }
  const inContainer = ['true', '1', 'yes'].includes(inContainerRaw);

  const host = read('HOST') ?? (mode === 'development' && !apiKey ? '127.0.0.1' : '0.0.0.0');
  if (mode === 'development' && !apiKey && !isLoopback(host)) {
    problems.push(
      inContainer
        ? 'ENV=development without API_KEY would open the admin API to the network: remove ENV from .env (the image runs in production mode) and set API_KEY and INGEST_KEY there'
        : `HOST=${host} would expose an open admin API to the network: set API_KEY, or bind HOST to 127.0.0.1`,
    );
  }

  const providerReports = readProviderReports(read, integer, problems);

  const publicUrlRaw = read('PUBLIC_URL');
  let publicUrl = `http://localhost:${port}`;
  if (publicUrlRaw !== undefined) {
    try {
      const url = new URL(publicUrlRaw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
      publicUrl = publicUrlRaw.replace(/\/+$/, '');
    } catch {
      problems.push(
        `PUBLIC_URL must be an http(s) URL like https://costs.example.com (got "${publicUrlRaw}")`,
      );
    }
  }

  if (problems.length > 0) {
    if (!inContainer) throw new ConfigError(problems);
    // Compose fixes HOST, SERVER_PORT and DATA_DIR; everything else comes from .env.
    problems.push(
      'in the container: set variables in .env beside docker-compose.yml (see .env.example), then run `docker compose up -d`',
    );
    throw new ConfigError(problems, { host, port });
  }

  return Object.freeze({
    mode,
    host,
    port,
    dataDir,
    dbPath,
    apiKey,
    ingestKey,
    metricsToken,
    allowedOrigins: Object.freeze(allowedOrigins.map((o) => o.replace(/\/$/, ''))),
    trustProxy: ['true', '1', 'yes'].includes(trustProxyRaw),
    rateLimit: Object.freeze({ ratePerMinute, burst, exemptPaths: Object.freeze(exemptPaths) }),
    ingestRateLimit: Object.freeze({ ratePerMinute: ingestRate, burst: ingestBurst }),
    authFailuresPerMinute,
    redis:
      redisUrl === undefined
        ? undefined
        : Object.freeze({
            url: redisUrl,
            keyPrefix: read('REDIS_KEY_PREFIX') ?? 'cg:',
            timeoutMs: redisTimeoutMs,
            failureMode: redisFailure as 'local' | 'open',
          }),
    defaultProvider,
    pricesFile,
    openaiModel: read('OPENAI_MODEL'),
    trackingTokenLength,
    bodyLimitBytes,
    logLevel: logLevel as Config['logLevel'],
    requestLogSampleRate,
    scanTimeoutMs: scanTimeoutSeconds * 1000,
    dbLockWaitMs,
    headersTimeoutMs,
    requestTimeoutMs,
    bodyBudgetBytes,
    publicUrl,
    providerReports,
  });
}

function readProviderReports(
  read: (name: string) => string | undefined,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): ProviderReportsConfig {
  const adminApi = (keyName: string, urlName: string, fallbackUrl: string): AdminApiConfig => {
    const baseUrl = read(urlName) ?? fallbackUrl;
    try {
      const url = new URL(baseUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http');
    } catch {
      problems.push(`${urlName} must be an http(s) URL like ${fallbackUrl} (got "${baseUrl}")`);
    }
    const api = { baseUrl: baseUrl.replace(/\/+$/, '') };
    Object.defineProperty(api, 'adminKey', { value: read(keyName), enumerable: false });
    return Object.freeze(api) as AdminApiConfig;
  };
  const minUsdRaw = read('DRIFT_ALERT_MIN_USD') ?? '1';
  if (!/^\d+(\.\d{1,9})?$/.test(minUsdRaw))
    problems.push(`DRIFT_ALERT_MIN_USD must be an amount of US dollars like 1 or 0.50 (got "${minUsdRaw}")`);
  return Object.freeze({
    openai: adminApi('OPENAI_ADMIN_KEY', 'OPENAI_ADMIN_BASE_URL', 'https://api.openai.com/v1'),
    anthropic: adminApi('ANTHROPIC_ADMIN_KEY', 'ANTHROPIC_ADMIN_BASE_URL', 'https://api.anthropic.com'),
    syncIntervalMs: integer('REPORTS_SYNC_MINUTES', 60, 5, 1440) * 60_000,
    backfillDays: integer('REPORTS_BACKFILL_DAYS', 30, 1, 365),
    driftAlertPercent: integer('DRIFT_ALERT_PERCENT', 10, 1, 1000),
    driftAlertMinNanoUsd: /^\d+(\.\d{1,9})?$/.test(minUsdRaw) ? Math.round(Number(minUsdRaw) * 1e9) : 1e9,
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** A valid config for tests and tools, built through the same parser. */
export function testConfig(overrides: Record<string, string> = {}, cwd?: string): Config {
  return loadConfig({ LOG_LEVEL: 'silent', ...overrides }, cwd);
}
