import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { runCli } from '../src/cli/program.js';
import { Capture } from './cli-helpers.js';
import { createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

const contexts: TestContext[] = [];
afterEach(async () => {
  for (const ctx of contexts.splice(0).reverse()) await ctx.close();
});

async function cli(dbPath: string, cwd: string, ...args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(['node', 'cost-guardian', '--db', dbPath, ...args], {
    env: { LOG_LEVEL: 'silent' },
    cwd,
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

type Row = Record<string, unknown> & { id: number };

test('a backup taken while ingest keeps writing is the database as of one commit, and restores', async () => {
  const source = await createTestApp();
  contexts.push(source);
  const tokens = [await source.createToken('a'), await source.createToken('b')];
  const record = (i: number) => ({
    tracking_token: tokens[i % 2]?.token,
    event_id: `evt-${i}`,
    model: i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
    prompt_tokens: 100 + i,
    completion_tokens: i % 50,
    meta: { note: `record ${i} `.repeat(8) },
  });
  for (let batch = 0; batch < 3; batch += 1) {
    const records = Array.from({ length: 1000 }, (_, i) => record(batch * 1000 + i));
    const response = await source.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: { records },
    });
    expect(response.json().created).toBe(1000);
  }
  const before = source.store.db.prepare('SELECT COUNT(*) AS n FROM usage_log').get() as { n: number };

  let writing = true;
  let next = 3000;
  const writer = (async () => {
    while (writing) expect((await source.ingest(record(next++))).statusCode).toBe(201);
  })();
  const backupFile = path.join(source.dir, 'backup.sqlite');
  const run = await cli(source.dbPath, source.dir, 'backup', backupFile, '--pages-per-step', '4');
  writing = false;
  await writer;
  for (let i = 0; i < 3; i += 1) await source.ingest(record(next++));
  expect(run.code, run.stderr).toBe(EXIT.ok);
  expect(run.stdout.trim()).toBe(backupFile);
  expect(run.stderr).toContain('integrity check ok');

  const copy = new Database(backupFile, { readonly: true });
  const rowsOf = (db: Database.Database, maxId: number) =>
    db.prepare('SELECT * FROM usage_log WHERE id <= ? ORDER BY id').all(maxId) as Row[];
  const tokensOf = (db: Database.Database) =>
    db
      .prepare('SELECT id, label, token, active, created_at, deleted_at FROM ingest_tokens ORDER BY id')
      .all();
  try {
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    const { maxId, count } = copy
      .prepare('SELECT MAX(id) AS maxId, COUNT(*) AS count FROM usage_log')
      .get() as {
      maxId: number;
      count: number;
    };
    // Ids are given out in commit order and nothing is deleted, so a state "as of one commit" is
    // exactly the rows 1..maxId, identical to the source's.
    expect(count).toBe(maxId);
    expect(maxId).toBeGreaterThanOrEqual(before.n);
    const sourceCount = (
      source.store.db.prepare('SELECT COUNT(*) AS n FROM usage_log').get() as { n: number }
    ).n;
    expect(sourceCount).toBeGreaterThan(maxId);
    expect(rowsOf(copy, maxId)).toEqual(rowsOf(source.store.db, maxId));
    expect(tokensOf(copy)).toEqual(tokensOf(source.store.db));

    // Restore as docs/operations.md says: put the file in place of the database, migrate, start.
    const restoredPath = path.join(source.dir, 'restored', 'usage.sqlite');
    await cli(restoredPath, source.dir, 'migrate', '--dry-run');
    copyFileSync(backupFile, path.join(source.dir, 'restored.tmp'));
    mkdirSync(path.dirname(restoredPath));
    renameSync(path.join(source.dir, 'restored.tmp'), restoredPath);
    expect((await cli(restoredPath, source.dir, 'migrate')).stdout).toContain('up to date');
    const restored = await createTestApp({ DB_PATH: restoredPath });
    contexts.push(restored);
    const lines = (body: string) =>
      body
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Row);
    const restoredRows = lines((await restored.admin('GET', '/data?format=jsonl')).body);
    const sourceRows = lines((await source.admin('GET', '/data?format=jsonl')).body).filter(
      (r) => r.id <= maxId,
    );
    expect(restoredRows).toHaveLength(maxId);
    expect(restoredRows).toEqual(sourceRows);
    const listed = (await restored.admin('GET', '/ingest/tokens')).json().tokens;
    expect(listed.map((t: { label: string }) => t.label).sort()).toEqual(['a', 'b']);
  } finally {
    copy.close();
  }
});

test('without a destination the backup goes to backups/ beside the database; it never overwrites', async () => {
  const ctx = await createTestApp();
  contexts.push(ctx);
  await ctx.createToken('x');
  const first = await cli(ctx.dbPath, ctx.dir, 'backup');
  expect(first.code).toBe(EXIT.ok);
  const file = first.stdout.trim();
  expect(path.dirname(file)).toBe(path.join(ctx.dir, 'backups'));
  expect(path.basename(file)).toMatch(/^usage-\d{8}T\d{6}Z\.sqlite$/);
  expect(readdirSync(path.dirname(file))).toEqual([path.basename(file)]);

  expect((await cli(ctx.dbPath, ctx.dir, 'backup', file)).code).toBe(EXIT.input);
  expect((await cli(ctx.dbPath, ctx.dir, 'backup', file, '--force')).code).toBe(EXIT.ok);
  expect((await cli(ctx.dbPath, ctx.dir, 'backup', ctx.dbPath, '--force')).code).toBe(EXIT.input);
  expect((await cli(ctx.dbPath, ctx.dir, 'backup', path.join(ctx.dir, 'no/such/dir/b.sqlite'))).code).toBe(
    EXIT.input,
  );
  expect((await cli(path.join(ctx.dir, 'missing.sqlite'), ctx.dir, 'backup')).code).toBe(EXIT.database);
  expect(existsSync(path.join(ctx.dir, 'missing.sqlite'))).toBe(false);
});
