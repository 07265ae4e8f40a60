import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Response } from 'light-my-request';
import { type App, buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { type Clock, createManualClock, systemTimers } from '../src/lib/clock.js';
import { Metrics } from '../src/metrics/metrics.js';
import {
  createSqliteStore,
  type SqliteStore,
  type SqliteStoreOptions,
} from '../src/storage/sqlite/sqlite-store.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';
export const INGEST_KEY = 'test-ingest-key-0123456789';

export interface TestContext {
  app: App;
  store: SqliteStore;
  clock: ReturnType<typeof createManualClock>;
  dir: string;
  dbPath: string;
  close(): Promise<void>;
  /** Creates a tracking token through the API and returns it. */
  createToken(label?: string): Promise<{ id: number; token: string }>;
  /** POST /ingest with the ingest key. */
  ingest(body: unknown, headers?: Record<string, string>): Promise<Response>;
  admin(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    payload?: unknown,
  ): Promise<Response>;
}

export const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

/** A whole app on a fresh SQLite file, with keys set and generous limits unless overridden. */
export async function createTestApp(
  env: Record<string, string> = {},
  options: { clock?: Clock; store?: Pick<SqliteStoreOptions, 'scanTimeoutMs' | 'lockWaitMs' | 'disk'> } = {},
): Promise<TestContext> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-test-'));
  const config = testConfig({
    API_KEY: ADMIN_KEY,
    INGEST_KEY: INGEST_KEY,
    DB_PATH: path.join(dir, 'usage.sqlite'),
    RATE_LIMIT_RPM: '100000',
    AUTH_FAILURES_PER_MINUTE: '1000',
    ...env,
  });
  const metrics = new Metrics();
  const store = createSqliteStore(config.dbPath, {
    onCommit: (n, ms) => metrics.recordCommit(n, ms),
    onSync: (ms) => metrics.recordSync(ms),
    onRead: (operation, ms) => metrics.recordRead(operation, ms),
    lockWaitMs: config.dbLockWaitMs,
    ...options.store,
  });
  const clock = createManualClock(T0);
  // The default manual clock also drives the app's timers; a caller's own clock (the browser tests
  // pass the system clock) comes with Node's timers.
  const app = options.clock
    ? await buildApp({ config, store, clock: options.clock, timers: systemTimers, metrics })
    : await buildApp({ config, store, clock, timers: clock, metrics });
  await app.ready();
  let created = 0;
  const context: TestContext = {
    app,
    store,
    clock,
    dir,
    dbPath: config.dbPath,
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
    async createToken(label?: string) {
      created += 1;
      const response = await context.admin('POST', '/ingest/tokens', { label: label ?? `token-${created}` });
      if (response.statusCode !== 201) throw new Error(`token create failed: ${response.body}`);
      return response.json();
    },
    ingest(body, headers = {}) {
      return app.inject({
        method: 'POST',
        url: '/ingest',
        headers: { 'x-ingest-key': INGEST_KEY, ...headers },
        payload: body as object,
      });
    },
    admin(method, url, payload) {
      return app.inject({
        method,
        url,
        headers: { 'x-api-key': ADMIN_KEY },
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
    },
  };
  return context;
}
