import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { plainTokenCounts } from '../src/ingest/token-counts.js';
import { openImportTarget } from '../src/storage/sqlite/import-writer.js';
import { createCliSandbox } from './cli-helpers.js';
import { createTestApp, type TestContext } from './helpers.js';
import { createOriginalV02, createOriginalV03, ORIGINAL_TOKENS, ROWS } from './original-fixture.js';
import { usage } from './usage-fixture.js';

let box: ReturnType<typeof createCliSandbox>;
let original: string;
const apps: TestContext[] = [];
beforeEach(() => {
  box = createCliSandbox();
  original = path.join(box.dir, 'usage_log.sqlite');
  createOriginalV03(original);
});
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  box.remove();
});

/** The app on the imported database, and our row id for each original id. */
async function openImported() {
  const app = await createTestApp({ DB_PATH: box.dbPath });
  apps.push(app);
  const ids = new Map(
    (
      app.store.db.prepare('SELECT id, original_id AS originalId FROM usage_log').all() as {
        id: number;
        originalId: number;
      }[]
    ).map((r) => [r.originalId, r.id]),
  );
  const rows = (await app.admin('GET', '/data')).json().data as Record<string, unknown>[];
  const byOriginal = (originalId: number) => rows.find((r) => r.id === ids.get(originalId));
  return { app, ids, rows, byOriginal };
}

describe('importing a v0.3 database of the original', () => {
  test('imports every representable row, reports the rest by id, and exits 7', async () => {
    const run = await box.cli(['import-original', original, '--json']);
    expect(run.code, run.stderr).toBe(EXIT.partial);
    const report = JSON.parse(run.stdout);
    // snake_case keys, as the API's bodies (issue 17.12)
    expect(run.stdout).not.toMatch(/"[a-z]+[A-Z][A-Za-z]*":/);
    expect(report.cost).toMatchObject({ unpriced_rows: expect.any(Number), priced_usd: expect.any(Number) });
    expect(report.usage).toMatchObject({
      in_original: 15,
      imported: 11,
      already_imported: 0,
      naive_timestamps: 2,
      skipped: {
        missing_timestamp: [ROWS.logWithoutTimestamp],
        unparseable_timestamp: [ROWS.notADate],
        missing_model: [ROWS.noModel],
        invalid_token_counts: [ROWS.textTokenCount],
      },
      event_conflicts: [],
    });
    expect(report.tokens).toMatchObject({
      in_original: 3,
      imported: 3,
      placeholders: [9],
      unreadable_times: [3],
    });
    const human = await box.cli(['import-original', original, '--dry-run']);
    expect(human.stdout).toContain('NOT imported, timestamp missing (NULL, e.g. from POST /log) (1): 4');
    expect(human.stdout).toContain('NOT imported, timestamp is not a date (1): 7');
  });

  test('tracking tokens keep their ids, labels, values, active flags and times, and keep working', async () => {
    await box.cli(['import-original', original]);
    const { app } = await openImported();
    const tokens = (await app.admin('GET', '/ingest/tokens')).json().tokens;
    expect(tokens.map((t: { id: number }) => t.id).sort()).toEqual([1, 2, 3]);
    const byId = (id: number) => tokens.find((t: { id: number }) => t.id === id);
    expect(byId(1)).toMatchObject({
      label: ORIGINAL_TOKENS.production.label,
      token: ORIGINAL_TOKENS.production.token,
      active: 1,
      created_at: '2025-08-01T09:15:00Z',
      last_seen_at: '2025-08-26T08:00:00.123Z',
      usage_count: 2,
    });
    // last_seen_at is the original's, moved forward to the token's newest row when that is later
    // (the original stored the client's time of the last ingest; its rows can be newer, and token
    // 3's value was not a time at all).
    expect(byId(2)).toMatchObject({ label: 'Staging', usage_count: 4, last_seen_at: '2025-08-29T09:00:00Z' });
    expect(byId(3)).toMatchObject({
      label: 'Old batch job',
      active: 0,
      last_seen_at: '2025-07-20T08:00:00Z',
      usage_count: 1,
    });

    const ingest = (token: string) =>
      app.ingest({ tracking_token: token, model: 'gpt-4o-mini', prompt_tokens: 1 });
    expect((await ingest(ORIGINAL_TOKENS.production.token)).statusCode).toBe(201);
    expect((await ingest(ORIGINAL_TOKENS.retired.token)).statusCode).toBe(403);
    expect((await app.createToken('new after import')).id).toBe(10);
  });

  test('usage rows keep their attribution, get UTC times and our price, and keep the original cost', async () => {
    await box.cli(['import-original', original]);
    const { byOriginal, app, ids } = await openImported();
    expect(byOriginal(ROWS.offsetPlusZero)).toMatchObject({
      timestamp: '2025-08-24T13:53:26Z',
      model: 'gpt-4o-mini',
      promptTokens: 1000,
      completionTokens: 500,
      totalTokens: 1500,
      estimatedCostUSD: 0.00045,
      clientCostUSD: 0.00045,
      ingestTokenId: 1,
      tokenLabel: 'Production App',
      eventId: 'chatcmpl-1',
      source: 'ingest',
      pricingStatus: 'priced',
    });
    expect(byOriginal(ROWS.zulu)).toMatchObject({
      timestamp: '2025-08-25T09:00:00Z',
      estimatedCostUSD: 0.00075,
      clientCostUSD: 0.00225,
    });
    expect(byOriginal(ROWS.offsetWithMicroseconds)?.timestamp).toBe('2025-08-26T08:00:00.123Z');
    expect(byOriginal(ROWS.orphanedByDelete)).toMatchObject({
      ingestTokenId: null,
      tokenLabel: null,
      eventId: 'evt-5',
    });
    expect(byOriginal(ROWS.deletedTokenStillReferenced)).toMatchObject({
      ingestTokenId: 9,
      tokenLabel: 'deleted token 9 (imported)',
    });
    expect(byOriginal(ROWS.probeNaive)).toMatchObject({
      timestamp: '2025-07-01T00:00:00Z',
      source: 'import',
      estimatedCostUSD: 0.0003,
    });
    expect(byOriginal(ROWS.logSpaceSeparated)).toMatchObject({
      timestamp: '2025-08-28T10:00:00Z',
      source: 'legacy',
      promptTokens: 0,
      totalTokens: 0,
      clientCostUSD: null,
    });
    expect(byOriginal(ROWS.negativeCost)?.clientCostUSD).toBe(-5);
    expect(byOriginal(ROWS.unknownModel)).toMatchObject({
      estimatedCostUSD: null,
      pricingStatus: 'unpriced',
      clientCostUSD: 0.000165,
    });
    const meta = app.store.db
      .prepare('SELECT meta FROM usage_log WHERE id = ?')
      .pluck()
      .get(ids.get(ROWS.probeNaive));
    expect(JSON.parse(meta as string)).toEqual({
      original: { original_source: 'probe', api_key_id: 1, api_key_label: 'main key' },
    });
    const secrets = app.store.db
      .prepare("SELECT COUNT(*) FROM usage_log WHERE meta LIKE '%fernet%'")
      .pluck()
      .get();
    expect(secrets).toBe(0);
  });

  test('running it again adds nothing', async () => {
    await box.cli(['import-original', original]);
    const again = await box.cli(['import-original', original, '--json']);
    expect(again.code).toBe(EXIT.partial);
    const report = JSON.parse(again.stdout);
    expect(report.usage).toMatchObject({ imported: 0, already_imported: 11 });
    expect(report.tokens).toMatchObject({ imported: 0, already_present: 4 });
    const db = new Database(box.dbPath, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) FROM usage_log').pluck().get()).toBe(11);
    expect(db.prepare('SELECT COUNT(*) FROM ingest_tokens').pluck().get()).toBe(4);
    db.close();
  });

  test('--undated-at imports the rows without a usable time, marked, and only once', async () => {
    await box.cli(['import-original', original]);
    const run = await box.cli(['import-original', original, '--undated-at', '2025-08-01', '--json']);
    const report = JSON.parse(run.stdout);
    expect(report.usage).toMatchObject({
      imported: 2,
      already_imported: 11,
      undated: [ROWS.logWithoutTimestamp, ROWS.notADate],
      skipped: {
        missing_timestamp: [],
        unparseable_timestamp: [],
        missing_model: [11],
        invalid_token_counts: [12],
      },
    });
    expect(run.code).toBe(EXIT.partial);
    const { byOriginal, app, ids } = await openImported();
    expect(byOriginal(ROWS.notADate)).toMatchObject({ timestamp: '2025-08-01T00:00:00Z', ingestTokenId: 1 });
    const meta = (id: number) =>
      JSON.parse(
        app.store.db.prepare('SELECT meta FROM usage_log WHERE id = ?').pluck().get(ids.get(id)) as string,
      );
    expect(meta(ROWS.notADate)).toEqual({ original: { original_timestamp: 'not-a-date' } });
    expect(meta(ROWS.logWithoutTimestamp)).toEqual({ original: { original_timestamp: null } });
    const third = JSON.parse(
      (await box.cli(['import-original', original, '--undated-at', '2025-08-01', '--json'])).stdout,
    );
    expect(third.usage).toMatchObject({ imported: 0, already_imported: 13 });
  });

  test('--dry-run writes nothing, not even a new database file', async () => {
    const run = await box.cli(['import-original', original, '--dry-run', '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({
      dry_run: true,
      usage: { imported: 11 },
      tokens: { imported: 3 },
    });
    expect(existsSync(box.dbPath)).toBe(false);
  });
});

test('a target whose tokens clash with the original is refused with exit 6 and left untouched', async () => {
  const target = openImportTarget(box.dbPath);
  target.insertTokens([
    {
      id: 1,
      label: 'Mine',
      token: 'a-different-value-000000000',
      active: true,
      createdAt: 0,
      lastSeenAt: null,
      deletedAt: null,
    },
  ]);
  target.close();
  const run = await box.cli(['import-original', original]);
  expect(run.code).toBe(EXIT.refused);
  expect(run.stderr).toContain('id 1 is already token "Mine" here');
  const db = new Database(box.dbPath, { readonly: true });
  expect(db.prepare('SELECT COUNT(*) FROM ingest_tokens').pluck().get()).toBe(1);
  expect(db.prepare('SELECT COUNT(*) FROM usage_log').pluck().get()).toBe(0);
  db.close();
});

test('a row whose event_id a client already re-sent to the new service is reported, not doubled', async () => {
  const target = openImportTarget(box.dbPath);
  target.insertTokens([
    { ...ORIGINAL_TOKENS.production, active: true, createdAt: 0, lastSeenAt: null, deletedAt: null },
  ]);
  target.close();
  const app = await createTestApp({ DB_PATH: box.dbPath });
  apps.push(app);
  const resent = await app.ingest({
    tracking_token: ORIGINAL_TOKENS.production.token,
    event_id: 'chatcmpl-1',
    model: 'gpt-4o-mini',
    prompt_tokens: 1000,
    completion_tokens: 500,
  });
  expect(resent.statusCode).toBe(201);
  const run = await box.cli(['import-original', original, '--json']);
  const report = JSON.parse(run.stdout);
  expect(report.usage.event_conflicts).toEqual([
    { original_id: ROWS.offsetPlusZero, existing_id: resent.json().id },
  ]);
  expect(report.usage.imported).toBe(10);
  expect(report.tokens.already_present).toBe(1);
});

test('a v0.2 database (provider-key polling, no tracking tokens) imports completely with exit 0', async () => {
  const v02 = path.join(box.dir, 'v02.sqlite');
  createOriginalV02(v02);
  const run = await box.cli(['import-original', v02]);
  expect(run.code, run.stdout).toBe(EXIT.ok);
  expect(run.stdout).toContain('usage rows: 3 in the original, 3 imported');
  const { rows } = await openImported();
  expect(rows.map((r) => [r.timestamp, r.source, r.ingestTokenId])).toEqual([
    ['2025-03-03T00:00:00Z', 'legacy', null],
    ['2025-03-02T00:00:00Z', 'import', null],
    ['2025-03-01T00:00:00Z', 'import', null],
  ]);
});

test('a missing file, a non-database, our own database and the target itself exit 5', async () => {
  expect((await box.cli(['import-original', path.join(box.dir, 'nope.sqlite')])).code).toBe(EXIT.input);
  const text = path.join(box.dir, 'notes.txt');
  writeFileSync(text, 'hello, not sqlite');
  const notDb = await box.cli(['import-original', text]);
  expect(notDb.code).toBe(EXIT.input);
  expect(notDb.stderr).toContain('not a readable SQLite database');
  await box.cli(['migrate']);
  const ours = await box.cli(['import-original', box.dbPath, '--db', path.join(box.dir, 'other.sqlite')]);
  expect(ours.code).toBe(EXIT.input);
  expect(ours.stderr).toContain('already a database of this version');
  expect((await box.cli(['import-original', original, '--db', original])).code).toBe(EXIT.input);
  expect((await box.cli(['import-original', original, '--undated-at', 'soon'])).code).toBe(EXIT.usage);
});

test('the store refuses a second usage row with the same original id', async () => {
  const app = await createTestApp({ DB_PATH: box.dbPath });
  apps.push(app);
  const row = usage({
    ts: 0,
    receivedAt: 0,
    source: 'import',
    model: 'gpt-4o-mini',
    ...plainTokenCounts(1, 0),
    costNanoUsd: 150,
    pricingSource: null,
    originalId: 42,
  });
  expect((await app.store.insertUsage([row]))[0]?.status).toBe('created');
  await expect(app.store.insertUsage([row])).rejects.toThrow(
    /UNIQUE constraint failed: usage_log.original_id/,
  );
});
