import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { runCli } from '../src/cli/program.js';
import { Capture } from './cli-helpers.js';
import { createTestApp, type TestContext } from './helpers.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestApp();
  const token = await ctx.createToken('prod');
  const other = await ctx.createToken('batch jobs');
  const records = [
    {
      tracking_token: token.token,
      model: 'gpt-4o-mini',
      prompt_tokens: 1000,
      completion_tokens: 500,
      timestamp: '2026-11-01T10:00:00Z',
    },
    {
      tracking_token: token.token,
      model: 'gpt-4o',
      prompt_tokens: 10,
      completion_tokens: 5,
      timestamp: '2026-11-02T10:00:00Z',
    },
    {
      tracking_token: other.token,
      model: '=HYPERLINK("x")',
      prompt_tokens: 1,
      completion_tokens: 0,
      timestamp: '2026-11-03T10:00:00Z',
    },
    {
      tracking_token: other.token,
      model: 'has,comma "and quotes"',
      prompt_tokens: 0,
      completion_tokens: 0,
      timestamp: '2026-11-04T10:00:00Z',
    },
  ];
  for (const record of records) expect((await ctx.ingest(record)).statusCode).toBe(201);
});
afterEach(async () => {
  await ctx.close();
});

async function cli(...args: string[]) {
  return cliWith({ terminal: false }, ...args);
}

async function cliWith(options: { terminal: boolean }, ...args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  stderr.isTTY = options.terminal;
  const code = await runCli(['node', 'cost-guardian', ...args], {
    env: { DB_PATH: ctx.dbPath, LOG_LEVEL: 'silent' },
    cwd: ctx.dir,
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

test('CSV on stdout is byte for byte what GET /data?format=csv serves', async () => {
  const run = await cli('export');
  expect(run.code).toBe(EXIT.ok);
  expect(run.stdout).toBe((await ctx.admin('GET', '/data?format=csv')).body);
  expect(run.stderr).toContain('exported 4 rows');
});

test('JSON lines to a file match GET /data?format=jsonl, with the same filters', async () => {
  const run = await cli(
    'export',
    '-o',
    'out.jsonl',
    '--start',
    '2026-11-02',
    '--end',
    '2026-11-03T23:00:00Z',
  );
  expect(run.code).toBe(EXIT.ok);
  const written = readFileSync(path.join(ctx.dir, 'out.jsonl'), 'utf8');
  expect(written).toBe(
    (await ctx.admin('GET', '/data?format=jsonl&start=2026-11-02&end=2026-11-03T23:00:00Z')).body,
  );
  expect(
    written
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).model),
  ).toEqual(['=HYPERLINK("x")', 'gpt-4o']);
  expect(run.stderr).toContain('exported 2 rows');
  expect(readdirSync(ctx.dir).filter((f) => f.includes('.partial'))).toEqual([]);
});

test('--model and --token-id filter like the API, and an empty result is just the header', async () => {
  const byModel = await cli('export', '--model', 'gpt-4o', '--format', 'jsonl');
  expect(byModel.stdout.trim().split('\n')).toHaveLength(1);
  // Issue 17.12: "exported 1 rows".
  expect(byModel.stderr).toContain('exported 1 row (');
  const byToken = await cli('export', '--token-id', '2');
  expect(byToken.stdout).toBe((await ctx.admin('GET', '/data?format=csv&ingest_token_id=2')).body);
  expect(byToken.stderr).toContain('exported 2 rows');
  const none = await cli('export', '--model', 'nothing-like-this');
  expect(none.stdout.split('\r\n')).toEqual([expect.stringContaining('id,timestamp,model'), '']);
  expect(none.stderr).toContain('exported 0 rows');
});

test('--provider, --user and --tag (repeatable) filter like GET /data, with the same errors', async () => {
  const { token } = await ctx.createToken('attributed');
  const records = [
    { provider: 'anthropic', model: 'claude-sonnet-4', user: 'ann', tags: { team: 'search', env: 'prod' } },
    { provider: 'anthropic', model: 'claude-sonnet-4', user: 'bob', tags: { team: 'search', env: 'dev' } },
    { provider: 'openai', model: 'gpt-4o', user: 'ann', tags: { team: 'ads', env: 'prod' } },
  ];
  for (const [i, record] of records.entries()) {
    const body = {
      tracking_token: token,
      prompt_tokens: 10,
      completion_tokens: 5,
      timestamp: `2026-11-1${i}T10:00:00Z`,
    };
    expect((await ctx.ingest({ ...body, ...record })).statusCode).toBe(201);
  }
  const cases: [string[], string][] = [
    [['--provider', 'Anthropic'], 'provider=Anthropic'],
    [['--user', 'ann'], 'user=ann'],
    [['--tag', 'team:search', '--tag', 'env:prod'], 'tag=team:search&tag=env:prod'],
    [['--provider', 'openai', '--user', 'ann', '--tag', 'env:prod'], 'provider=openai&user=ann&tag=env:prod'],
  ];
  const counts: string[] = [];
  for (const [args, query] of cases) {
    const run = await cli('export', '--format', 'jsonl', ...args);
    expect(run.code, run.stderr).toBe(EXIT.ok);
    expect(run.stdout).toBe((await ctx.admin('GET', `/data?format=jsonl&${query}`)).body);
    counts.push(/exported (\d+ rows?)/.exec(run.stderr)?.[1] ?? run.stderr);
  }
  expect(counts).toEqual(['2 rows', '2 rows', '1 row', '1 row']);
  const badTag = await cli('export', '--tag', 'team');
  expect(badTag.code).toBe(EXIT.usage);
  expect(badTag.stderr).toContain((await ctx.admin('GET', '/data?format=csv&tag=team')).json().message);
});

test('bad arguments exit 2 and an existing file exits 5 unless --force', async () => {
  expect((await cli('export', '--start', 'yesterday')).code).toBe(EXIT.usage);
  expect((await cli('export', '--start', '2026-11-05', '--end', '2026-11-01')).code).toBe(EXIT.usage);
  expect((await cli('export', '--format', 'xml')).code).toBe(EXIT.usage);
  expect((await cli('export', '--token-id', 'abc')).code).toBe(EXIT.usage);
  const file = path.join(ctx.dir, 'taken.csv');
  writeFileSync(file, 'keep me');
  const refused = await cli('export', '-o', file);
  expect(refused.code).toBe(EXIT.input);
  expect(readFileSync(file, 'utf8')).toBe('keep me');
  expect((await cli('export', '-o', file, '--force')).code).toBe(EXIT.ok);
  expect(readFileSync(file, 'utf8')).toContain('gpt-4o-mini');
  expect(existsSync(`${file}.partial-${process.pid}`)).toBe(false);
});

test('on a terminal a progress bar is drawn on stderr, and stdout carries the same data', async () => {
  const plain = await cli('export', '--format', 'jsonl');
  const terminal = await cliWith({ terminal: true }, 'export', '--format', 'jsonl');
  expect(terminal.stdout).toBe(plain.stdout);
  expect(plain.stderr).not.toContain('export [');
  expect(terminal.stderr).toMatch(/export \[[^\]]*\] 100% \| 4\/4 rows/);
});
