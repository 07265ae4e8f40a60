import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { databaseError } from '../../src/cli/context.js';
import { testConfig } from '../../src/config.js';
import { createManualClock } from '../../src/lib/clock.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { startServer } from '../../src/server.js';
import { createSqliteStore, type SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ADMIN_KEY, INGEST_KEY, T0 } from '../helpers.js';
import { captureLogs, type LogLine } from './log-capture.js';

/**
 * Issue 16.5: a full disk answered 500 `internal` and /health stayed 200. The disk is simulated at
 * the store boundary: a fake DiskAccess, passed in like any dependency, throws SQLITE_FULL inside
 * each write transaction while `diskFull` is set and reports `freeBytes`. (scripts/disk-full.ts
 * fills a real size-limited tmpfs.)
 */

let dir: string;
let diskFull: boolean;
let freeBytes: number;
let store: SqliteStore;
let app: App;
let lines: LogLine[];

const disk = {
  beforeCommit() {
    if (diskFull) throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
  },
  async freeBytes() {
    return freeBytes;
  },
};

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-disk-full-'));
  diskFull = false;
  freeBytes = 10_000_000_000;
  const config = testConfig({
    API_KEY: ADMIN_KEY,
    INGEST_KEY,
    DB_PATH: path.join(dir, 'usage.sqlite'),
    RATE_LIMIT_RPM: '100000',
  });
  const capture = captureLogs();
  lines = capture.lines;
  store = createSqliteStore(config.dbPath, { disk });
  app = await buildApp({
    config,
    store,
    clock: createManualClock(T0),
    metrics: new Metrics(),
    logger: capture.logger,
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ingest = (token: string, eventId: string) =>
  app.inject({
    method: 'POST',
    url: '/ingest',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: { tracking_token: token, event_id: eventId, model: 'gpt-4o-mini', prompt_tokens: 10 },
  });
const health = () => app.inject({ method: 'GET', url: '/health' });
const stored = () => store.db.prepare('SELECT event_id FROM usage_log ORDER BY event_id').pluck().all();
async function prometheus(): Promise<string> {
  return (
    await app.inject({ method: 'GET', url: '/metrics/prometheus', headers: { 'x-api-key': ADMIN_KEY } })
  ).body;
}
async function createToken(): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/ingest/tokens',
    headers: { 'x-api-key': ADMIN_KEY },
    payload: { label: 'app' },
  });
  return response.json().token;
}

test('a full disk answers 503 storage_full with Retry-After, logged once per episode; /health and Prometheus say so; writes resume by themselves', async () => {
  const token = await createToken();
  expect((await ingest(token, 'evt-1')).statusCode).toBe(201);

  diskFull = true;
  const refused = await ingest(token, 'evt-2');
  expect(refused.statusCode).toBe(503);
  expect(refused.headers['retry-after']).toBe('10');
  expect(refused.json()).toEqual({
    status: 'error',
    code: 'storage_full',
    message: expect.stringMatching(/disk holding the database is full/),
    requestId: refused.headers['x-request-id'],
  });
  for (const eventId of ['evt-3', 'evt-4', 'evt-5'])
    expect((await ingest(token, eventId)).statusCode).toBe(503);
  const batch = await app.inject({
    method: 'POST',
    url: '/ingest/batch',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: {
      records: [{ tracking_token: token, event_id: 'evt-6', model: 'gpt-4o-mini', prompt_tokens: 1 }],
    },
  });
  expect(batch.statusCode).toBe(503);
  expect(batch.json().code).toBe('storage_full');

  const degraded = await health();
  expect(degraded.statusCode).toBe(503);
  expect(degraded.json()).toMatchObject({ status: 'degraded', checks: { database: 'ok', writes: 'full' } });
  const metrics = await prometheus();
  expect(metrics).toMatch(/^cg_db_write_state\{state="full"\} 1$/m);
  expect(metrics).toMatch(/^cg_db_write_state\{state="ok"\} 0$/m);
  expect(metrics).toMatch(/^cg_db_write_episodes_total\{state="full"\} 1$/m);
  expect(metrics).toMatch(/^cg_db_disk_free_bytes 10000000000$/m);

  // Six refused requests, one log line for the episode, and no per-request error lines.
  const errors = lines.filter((line) => line.level === 'error');
  expect(errors.map((line) => line.msg)).toEqual([
    expect.stringMatching(/is full; writes answer 503 storage_full/),
  ]);

  // Space is freed; nothing has written yet, so /health still reports the failure it saw...
  diskFull = false;
  expect((await health()).json().checks.writes).toBe('full');
  // ...until the client's retry succeeds.
  expect((await ingest(token, 'evt-2')).statusCode).toBe(201);
  expect((await health()).statusCode).toBe(200);
  expect(lines.filter((line) => /resumed/.test(line.msg))).toHaveLength(1);
  expect(await prometheus()).toMatch(/^cg_db_write_state\{state="ok"\} 1$/m);

  // Nothing acknowledged was lost; nothing refused was stored.
  expect((await ingest(token, 'evt-1')).statusCode).toBe(200);
  expect(stored()).toEqual(['evt-1', 'evt-2']);
});

test('/health recovers without a write once free space has grown', async () => {
  const token = await createToken();
  freeBytes = 4096;
  diskFull = true;
  expect((await ingest(token, 'evt-1')).statusCode).toBe(503);
  // The free space measured after the failure (4096 bytes) is what /health compares against.
  expect((await health()).json().checks.writes).toBe('full');
  diskFull = false;
  freeBytes = 4096 + 512 * 1024;
  expect((await health()).json().checks.writes).toBe('full');
  freeBytes = 4096 + 2 * 1024 * 1024;
  expect((await health()).statusCode).toBe(200);
  expect((await ingest(token, 'evt-1')).statusCode).toBe(201);
});

test('a start on a full disk says that the disk is full', async () => {
  await app.close();
  freeBytes = 8192;
  const capture = captureLogs();
  const config = testConfig({
    API_KEY: ADMIN_KEY,
    INGEST_KEY,
    DB_PATH: store.db.name,
    SERVER_PORT: '0',
    HOST: '127.0.0.1',
  });
  const server = await startServer({ config, store, metrics: new Metrics(), logger: capture.logger });
  try {
    expect(capture.lines.filter((line) => line.level === 'error').map((line) => line.msg)).toEqual([
      `the disk holding ${config.dbPath} is full (8192 bytes free): writes will answer 503 storage_full until space is freed`,
    ]);
  } finally {
    await server.app.close();
  }
});

test('a database that cannot be opened for lack of space is reported as a full disk', () => {
  const error = databaseError(
    path.join(dir, 'usage.sqlite'),
    new Database.SqliteError('database or disk is full', 'SQLITE_FULL'),
  );
  expect(error.message).toMatch(
    /^cannot open the database .*: the disk holding it is full \(\d+ bytes free\); free some space/,
  );
});
