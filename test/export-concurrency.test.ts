import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { runCli } from '../src/cli/program.js';
import { ReadClient } from '../src/storage/sqlite/read-client.js';
import { Capture } from './cli-helpers.js';
import { ADMIN_KEY, createTestApp, type TestContext } from './helpers.js';
import { usage, writeUsageFile } from './usage-fixture.js';

/**
 * Issue 17.1: two identical exports at once shared one prepared statement in the read worker; the
 * second failed with "This statement is busy executing a query" (a 500 for JSON lines), and three
 * of four parallel CSV exports were cut after the header while the status said 200. An export
 * that fails midway must look failed to the client: an aborted HTTP response, a non-zero exit.
 */

const FIRST_MS = Date.UTC(2026, 9, 1);
const MODELS = [
  'gpt-4o-mini-2024-07-18',
  'gpt-4o-2024-08-06',
  'claude-sonnet-4-20250514',
  'ft:gpt-4o:acme, "q"::x1',
];
const TAG_SETS: (Record<string, string> | null)[] = [{ team: 'search', env: 'prod' }, { team: 'ads' }, null];

/** A usage database of `rows` varied rows (models with CSV-quoted names, users, tags, unpriced rows). */
function writeUsage(dbPath: string, rows: number): void {
  writeUsageFile(dbPath, rows, (i) =>
    usage({
      ts: FIRST_MS + i * 997,
      receivedAt: FIRST_MS + i * 997 + 120,
      eventId: `chatcmpl-${i.toString(36)}`,
      provider: i % 4 === 2 ? 'anthropic' : 'openai',
      model: MODELS[i % 4] as string,
      promptTokens: 100 + (i % 977),
      completionTokens: i % 313,
      totalTokens: 100 + (i % 977) + (i % 313),
      costNanoUsd: i % 97 === 0 ? null : 1_000 + i,
      pricingStatus: i % 97 === 0 ? 'unpriced' : 'priced',
      user: i % 3 === 0 ? null : `user-${i % 101}`,
      tags: TAG_SETS[i % 3] ?? null,
    }),
  );
}

interface Download {
  status: number;
  /** Whether the body ended with its terminating chunk (false: the response was aborted). */
  complete: boolean;
  bytes: number;
  sha256: string;
}

/**
 * GET with a real HTTP client on a real port; the body is hashed as it arrives (a million JSON
 * lines are 500 MB). `onFirstData` runs when the first bytes of the body arrive.
 */
function download(base: string, url: string, onFirstData?: () => void): Promise<Download> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${url}`, { headers: { 'x-api-key': ADMIN_KEY } }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) onFirstData?.();
        bytes += chunk.length;
        hash.update(chunk);
      });
      // An aborted body also emits 'error' (ECONNRESET); 'close' comes either way.
      res.on('error', () => undefined);
      res.on('close', () =>
        resolve({ status: res.statusCode ?? 0, complete: res.complete, bytes, sha256: hash.digest('hex') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('exports at once', () => {
  const ROWS = 1_000_000;
  let dir: string;
  let ctx: TestContext;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cg-exports-'));
    const dbPath = path.join(dir, 'usage.sqlite');
    writeUsage(dbPath, ROWS);
    ctx = await createTestApp({ DB_PATH: dbPath });
    base = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('identical and different exports of 1M rows at once each equal, byte for byte, the same export run alone', async () => {
    const csvAll = '/data?format=csv';
    const csvAnthropic = '/data?format=csv&provider=anthropic';
    const jsonlTagged = '/data?format=jsonl&tag=team:search';

    const together = await Promise.all([
      download(base, csvAll),
      download(base, csvAll),
      download(base, csvAnthropic),
      download(base, jsonlTagged),
    ]);
    const alone = {
      csvAll: await download(base, csvAll),
      csvAnthropic: await download(base, csvAnthropic),
      jsonlTagged: await download(base, jsonlTagged),
    };

    for (const one of Object.values(alone)) expect(one).toMatchObject({ status: 200, complete: true });
    // A million CSV lines of 120-170 bytes; a quarter of them; a third of the rows as JSON lines.
    expect(alone.csvAll.bytes).toBeGreaterThan(ROWS * 100);
    expect(alone.csvAnthropic.bytes).toBeGreaterThan((ROWS / 4) * 100);
    expect(alone.jsonlTagged.bytes).toBeGreaterThan((ROWS / 3) * 400);
    expect(together).toEqual([alone.csvAll, alone.csvAll, alone.csvAnthropic, alone.jsonlTagged]);
  }, 300_000);
});

/**
 * The fault: the database file is cut short while an export reads it (a disk or filesystem fault),
 * so the read worker's next page read fails. 100,000 rows are ~30 MB of pages: far more than the
 * worker's page cache and the socket buffers, so the export is midway when the fault hits.
 */
describe('an export that fails midway', () => {
  const ROWS = 100_000;
  let dir: string;
  let source: string;
  let dbPath: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cg-export-fault-'));
    source = path.join(dir, 'source.sqlite');
    writeUsage(source, ROWS);
  }, 60_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // Each test cuts its database: each gets a fresh copy (written with no WAL left beside it).
  beforeEach(() => {
    const testDir = mkdtempSync(path.join(dir, 'test-'));
    dbPath = path.join(testDir, 'usage.sqlite');
    copyFileSync(source, dbPath);
  });

  test.each(['csv', 'jsonl'])('%s over HTTP is an aborted response, never a clean end', async (format) => {
    const ctx = await createTestApp({ DB_PATH: dbPath });
    try {
      const base = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
      const cut = await download(base, `/data?format=${format}`, () => truncateSync(dbPath, 8192));
      expect(cut.status).toBe(200);
      expect(cut.bytes).toBeGreaterThan(0);
      expect(cut.complete).toBe(false);
    } finally {
      await ctx.close();
    }
  });

  test('that cannot start answers with an error status, not a 200', async () => {
    const ctx = await createTestApp({ DB_PATH: dbPath });
    try {
      const base = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
      truncateSync(dbPath, 8192);
      const refused = await download(base, '/data?format=csv');
      expect(refused.status).toBe(500);
      expect(refused.complete).toBe(true);
    } finally {
      await ctx.close();
    }
  });

  test('while its consumer is busy rejects when pulled next, and is never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    const client = new ReadClient(dbPath);
    try {
      const chunks = client.exportUsage({}, 'csv', 100)[Symbol.asyncIterator]();
      expect((await chunks.next()).done).toBe(false);
      expect((await chunks.next()).done).toBe(false);
      // The worker goes away while the consumer holds a chunk and the next one is in flight.
      await client.close();
      expect((await chunks.next()).done).toBe(false);
      await new Promise((resolve) => setImmediate(resolve));
      await expect(chunks.next()).rejects.toThrow(/read worker stopped|store is closed/);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
      await client.close();
    }
  });

  test('from the CLI exits non-zero and leaves no file behind', async () => {
    const stdout = new Capture();
    // The progress line shows the first rows once they are in the file: cut the database then.
    const stderr = new (class extends Capture {
      private cut = false;
      override _write(chunk: Buffer | string, encoding: BufferEncoding, done: () => void): void {
        super._write(chunk, encoding, done);
        if (!this.cut && /export [1-9]\d* rows/.test(this.text)) {
          this.cut = true;
          truncateSync(dbPath, 8192);
        }
      }
    })();
    stderr.isTTY = true;
    const code = await runCli(
      ['node', 'cost-guardian', 'export', '-o', 'usage.csv', '--start', '2026-10-01'],
      { env: { DB_PATH: dbPath, LOG_LEVEL: 'silent' }, cwd: path.dirname(dbPath), stdout, stderr },
    );
    expect(code).toBe(EXIT.failure);
    expect(stderr.text).toMatch(/export [1-9]\d* rows/);
    expect(stderr.text).not.toContain('exported');
    expect(existsSync(path.join(path.dirname(dbPath), 'usage.csv'))).toBe(false);
    expect(readdirSync(path.dirname(dbPath)).filter((name) => name.startsWith('usage.csv'))).toEqual([]);
  });
});
