import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { createTestApp, INGEST_KEY, type TestContext } from '../helpers.js';

/**
 * Issue 16.4: with BEGIN EXCLUSIVE held by another connection, SQLite's busy timeout was waited
 * out on the event loop (ingest answered 500 after 5/10/15 s, /ping took 14.8 s) and /health said
 * healthy. The lock here is held by a second real connection to the same database file.
 */

let ctx: TestContext;
let holder: Database.Database | undefined;
afterEach(async () => {
  if (holder?.inTransaction) holder.exec('ROLLBACK');
  holder?.close();
  holder = undefined;
  await ctx.close();
});

function record(token: string, eventId: string) {
  return {
    tracking_token: token,
    event_id: eventId,
    model: 'gpt-4o-mini',
    prompt_tokens: 100,
    completion_tokens: 20,
  };
}

function holdWriteLock(dbPath: string): Database.Database {
  const connection = new Database(dbPath);
  connection.exec('BEGIN EXCLUSIVE');
  return connection;
}

function storedEventIds(dbPath: string): string[] {
  const reader = new Database(dbPath, { readonly: true });
  try {
    return reader.prepare('SELECT event_id FROM usage_log ORDER BY event_id').pluck().all() as string[];
  } finally {
    reader.close();
  }
}

describe('a write lock held by another connection', () => {
  test('ingest waits off the event loop: /ping answers meanwhile, and the write lands once the lock is released', async () => {
    ctx = await createTestApp({ DB_LOCK_WAIT_MS: '60000' });
    const { token } = await ctx.createToken();
    holder = holdWriteLock(ctx.dbPath);

    let answered = false;
    const ingest = ctx.ingest(record(token, 'evt-waits')).then((response) => {
      answered = true;
      return response;
    });
    // Let the write reach the store and meet the lock: the old code then blocked the event loop
    // for the 5 s busy timeout, twice, and answered 500.
    for (let i = 0; i < 10; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    expect(ctx.store.queuedWrites).toBe(1);
    for (let i = 0; i < 3; i += 1) {
      const ping = await ctx.app.inject({ method: 'GET', url: '/ping' });
      expect(ping.statusCode).toBe(200);
    }
    expect(answered).toBe(false);

    holder.exec('ROLLBACK');
    expect((await ingest).statusCode).toBe(201);
    expect(storedEventIds(ctx.dbPath)).toEqual(['evt-waits']);
  });

  test('past DB_LOCK_WAIT_MS ingest answers 503 with Retry-After, /health is degraded; after release both recover and each acknowledged record is stored once', async () => {
    ctx = await createTestApp({ DB_LOCK_WAIT_MS: '50' });
    const { token } = await ctx.createToken();
    expect((await ctx.ingest(record(token, 'evt-before'))).statusCode).toBe(201);

    holder = holdWriteLock(ctx.dbPath);
    const refused = await ctx.ingest(record(token, 'evt-during'));
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toEqual({
      status: 'error',
      code: 'unavailable',
      message: expect.stringMatching(/locked by another process/),
      requestId: refused.headers['x-request-id'],
    });
    const batch = await ctx.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: { records: [record(token, 'evt-batch')] },
    });
    expect(batch.statusCode).toBe(503);
    expect(batch.headers['retry-after']).toBe('1');

    expect((await ctx.app.inject({ method: 'GET', url: '/ping' })).statusCode).toBe(200);
    const degraded = await ctx.app.inject({ method: 'GET', url: '/health' });
    expect(degraded.statusCode).toBe(503);
    expect(degraded.json()).toMatchObject({
      status: 'degraded',
      checks: { database: 'ok', writes: 'locked' },
    });
    // Reads do not need the write lock.
    expect((await ctx.admin('GET', '/data')).statusCode).toBe(200);

    holder.exec('ROLLBACK');
    const healthy = await ctx.app.inject({ method: 'GET', url: '/health' });
    expect(healthy.statusCode).toBe(200);
    expect(healthy.json()).toMatchObject({ status: 'healthy', checks: { writes: 'ok' } });

    // The client retries what was refused, and resends what was acknowledged (a lost answer).
    expect((await ctx.ingest(record(token, 'evt-during'))).statusCode).toBe(201);
    expect((await ctx.ingest(record(token, 'evt-before'))).statusCode).toBe(200);
    expect(storedEventIds(ctx.dbPath)).toEqual(['evt-before', 'evt-during']);
  });

  test('a lock held for less than DB_LOCK_WAIT_MS does not make /health degraded', async () => {
    ctx = await createTestApp({ DB_LOCK_WAIT_MS: '60000' });
    holder = holdWriteLock(ctx.dbPath);
    const health = await ctx.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ checks: { writes: 'ok' } });
  });
});
