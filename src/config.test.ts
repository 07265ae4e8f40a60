import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env, '/srv/app');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

const LONG_ADMIN_KEY = 'admin-key-0123456789abcdef';
const LONG_INGEST_KEY = 'ingest-key-0123456789abcdef';

describe('loadConfig', () => {
  test('with no environment: development, port 5001, ./data/usage_log.sqlite, loopback only', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toMatchObject({
      mode: 'development',
      port: 5001,
      host: '127.0.0.1',
      dbPath: path.join('/srv/app', 'data', 'usage_log.sqlite'),
      apiKey: undefined,
      ingestKey: undefined,
      allowedOrigins: [],
      trackingTokenLength: 22,
      rateLimit: { ratePerMinute: 60, burst: 60, exemptPaths: ['/ping', '/health', '/dashboard'] },
      ingestRateLimit: { ratePerMinute: 6000, burst: 6000 },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('production refuses to start without API_KEY and INGEST_KEY, and says why, both at once', () => {
    expect(problems({ ENV: 'production' })).toEqual([
      'API_KEY is required when ENV=production: it protects the admin API and dashboard',
      'INGEST_KEY is required when ENV=production: it authenticates POST /ingest',
    ]);
  });

  test('with an API_KEY the default bind address is every interface', () => {
    expect(loadConfig({ API_KEY: 'k' }).host).toBe('0.0.0.0');
    expect(loadConfig({ ENV: 'production', API_KEY: LONG_ADMIN_KEY, INGEST_KEY: LONG_INGEST_KEY }).host).toBe(
      '0.0.0.0',
    );
  });

  test('production refuses an API_KEY or INGEST_KEY shorter than 24 characters, naming it (issue 16.11)', () => {
    expect(problems({ ENV: 'production', API_KEY: 'short-admin-key', INGEST_KEY: 'x'.repeat(23) })).toEqual([
      'API_KEY must be at least 24 characters when ENV=production (got 15): use a random key, e.g. the output of "openssl rand -base64 32"',
      'INGEST_KEY must be at least 24 characters when ENV=production (got 23): use a random key, e.g. the output of "openssl rand -base64 32"',
    ]);
    expect(
      loadConfig({ ENV: 'production', API_KEY: 'a'.repeat(24), INGEST_KEY: LONG_INGEST_KEY }).apiKey,
    ).toHaveLength(24);
    // Development keeps accepting short keys: a laptop is not reachable from outside.
    expect(loadConfig({ API_KEY: 'k', INGEST_KEY: 'i' }).ingestKey).toBe('i');
  });

  test('binding beyond loopback without API_KEY is refused', () => {
    expect(problems({ HOST: '0.0.0.0' })[0]).toMatch(/HOST=0.0.0.0 would expose an open admin API/);
  });

  test('every invalid value is reported together, naming the variable and a valid form', () => {
    const found = problems({
      SERVER_PORT: 'eighty',
      TRACKING_TOKEN_LENGTH: '15',
      RATE_LIMIT_RPM: '-1',
      ALLOWED_ORIGINS: '*',
      LOG_LEVEL: 'loud',
      ENV: 'staging',
    });
    expect(found).toHaveLength(6);
    expect(found.join('\n')).toMatch(/SERVER_PORT must be a whole number from 0 to 65535 \(got "eighty"\)/);
    expect(found.join('\n')).toMatch(/TRACKING_TOKEN_LENGTH must be a whole number from 16 to 64/);
    expect(found.join('\n')).toMatch(/ALLOWED_ORIGINS .* "\*" is not accepted/);
  });

  test('TRACKING_TOKEN_LENGTH accepts 16 to 64 characters', () => {
    expect(loadConfig({ TRACKING_TOKEN_LENGTH: '16' }).trackingTokenLength).toBe(16);
    expect(loadConfig({ TRACKING_TOKEN_LENGTH: '64' }).trackingTokenLength).toBe(64);
    expect(problems({ TRACKING_TOKEN_LENGTH: '65' })).toHaveLength(1);
  });

  test('SCAN_TIMEOUT_SECONDS: 30 s by default, 1 to 3600 seconds, kept in milliseconds', () => {
    expect(loadConfig({}).scanTimeoutMs).toBe(30_000);
    expect(loadConfig({ SCAN_TIMEOUT_SECONDS: '1' }).scanTimeoutMs).toBe(1_000);
    expect(loadConfig({ SCAN_TIMEOUT_SECONDS: '3600' }).scanTimeoutMs).toBe(3_600_000);
    for (const bad of ['0', '3601', '1.5', 'ten']) {
      expect(() => loadConfig({ SCAN_TIMEOUT_SECONDS: bad })).toThrow(
        /SCAN_TIMEOUT_SECONDS must be a whole number from 1 to 3600/,
      );
    }
  });

  test('fault limits: lock wait, header and request timeouts, body budget, with their defaults', () => {
    expect(loadConfig({})).toMatchObject({
      dbLockWaitMs: 2000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      bodyBudgetBytes: 64 * 1_048_576,
    });
    expect(loadConfig({ DB_LOCK_WAIT_MS: '0' }).dbLockWaitMs).toBe(0);
    expect(problems({ HEADERS_TIMEOUT_MS: '20000', REQUEST_TIMEOUT_MS: '10000' })).toEqual([
      'REQUEST_TIMEOUT_MS (10000) must be at least HEADERS_TIMEOUT_MS (20000): it covers the headers and the body',
    ]);
    expect(problems({ BODY_LIMIT_BYTES: '2097152', BODY_BUDGET_BYTES: '1048576' })).toEqual([
      'BODY_BUDGET_BYTES (1048576) must be at least BODY_LIMIT_BYTES (2097152), or a body of the largest allowed size could never be received',
    ]);
    expect(problems({ DB_LOCK_WAIT_MS: '60001', REQUEST_TIMEOUT_MS: '99' })).toEqual([
      'DB_LOCK_WAIT_MS must be a whole number from 0 to 60000 (got "60001")',
      'REQUEST_TIMEOUT_MS must be a whole number from 100 to 3600000 (got "99")',
    ]);
  });

  test('each burst falls back to its own rate; the ingest limit does not follow the admin one', () => {
    const config = loadConfig({ RATE_LIMIT_RPM: '30', RATE_LIMIT_BURST: '40', INGEST_RPM: '600' });
    expect(config.rateLimit).toMatchObject({ ratePerMinute: 30, burst: 40 });
    expect(config.ingestRateLimit).toEqual({ ratePerMinute: 600, burst: 600 });
    // Regression (issue 17.3): INGEST_* used to default to RATE_LIMIT_*, so ingest got 60 records a minute.
    expect(loadConfig({ RATE_LIMIT_RPM: '30', RATE_LIMIT_BURST: '40' }).ingestRateLimit).toEqual({
      ratePerMinute: 6000,
      burst: 6000,
    });
    expect(loadConfig({ INGEST_RPM: '120', INGEST_BURST: '7' }).ingestRateLimit).toEqual({
      ratePerMinute: 120,
      burst: 7,
    });
  });

  test('DB_PATH overrides DATA_DIR and DB_FILENAME; relative paths resolve from the working directory', () => {
    expect(loadConfig({ DATA_DIR: 'var', DB_FILENAME: 'x.sqlite' }, '/srv/app').dbPath).toBe(
      '/srv/app/var/x.sqlite',
    );
    expect(loadConfig({ DATA_DIR: 'var', DB_PATH: '/tmp/y.sqlite' }, '/srv/app').dbPath).toBe(
      '/tmp/y.sqlite',
    );
  });

  test('origins are normalised and must be real origins', () => {
    expect(
      loadConfig({ ALLOWED_ORIGINS: 'https://a.example/, http://localhost:5173' }).allowedOrigins,
    ).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(problems({ ALLOWED_ORIGINS: 'https://a.example/path' })).toHaveLength(1);
  });

  test('OPENAI_MODEL is accepted for old .env files but changes nothing', () => {
    expect(loadConfig({ OPENAI_MODEL: 'gpt-4o-mini-2024-07-18' }).openaiModel).toBe('gpt-4o-mini-2024-07-18');
  });
  test('REDIS_URL turns on shared buckets with a prefix, a command timeout and a failure mode', () => {
    expect(loadConfig({}, '/srv/app').redis).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379/2' }, '/srv/app').redis).toEqual({
      url: 'redis://cache:6379/2',
      keyPrefix: 'cg:',
      timeoutMs: 250,
      failureMode: 'local',
    });
    expect(
      loadConfig(
        {
          REDIS_URL: 'rediss://cache',
          REDIS_KEY_PREFIX: 'prod:',
          REDIS_TIMEOUT_MS: '50',
          RATE_LIMIT_REDIS_FAILURE: 'OPEN',
        },
        '/srv/app',
      ).redis,
    ).toMatchObject({ keyPrefix: 'prod:', timeoutMs: 50, failureMode: 'open' });
    expect(
      problems({ REDIS_URL: 'cache:6379', REDIS_TIMEOUT_MS: '0', RATE_LIMIT_REDIS_FAILURE: 'closed' }),
    ).toEqual([
      'REDIS_URL must be a redis:// or rediss:// URL, like redis://127.0.0.1:6379 (got "cache:6379")',
      'REDIS_TIMEOUT_MS must be a whole number from 10 to 10000 (got "0")',
      'RATE_LIMIT_REDIS_FAILURE must be "local" or "open" (got "closed")',
    ]);
  });
});
