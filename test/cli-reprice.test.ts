import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { runCli } from '../src/cli/program.js';
import { Capture } from './cli-helpers.js';
import { createTestApp, type TestContext } from './helpers.js';

/** `cost-guardian reprice` against the database of a running app, whose price overrides change. */

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestApp();
  const { token } = await ctx.createToken('prod');
  for (const model of ['gpt-7-preview', 'gpt-7-preview', 'gpt-4o-mini']) {
    const response = await ctx.ingest({
      tracking_token: token,
      model,
      prompt_tokens: 1000,
      completion_tokens: 10,
    });
    expect(response.statusCode).toBe(201);
  }
  await ctx.app.deps.prices.putOverrides(
    { openai: [{ id: 'gpt-7-preview', prices: { input_mtok: 1, output_mtok: 1 } }] },
    { actor: 'test', note: null },
  );
});
afterEach(async () => {
  await ctx.close();
});

async function cli(...args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(['node', 'cost-guardian', '--db', ctx.dbPath, ...args], {
    env: { LOG_LEVEL: 'silent' },
    cwd: ctx.dir,
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

test('without --apply it is a dry run that shows the delta and writes nothing', async () => {
  const run = await cli('reprice');
  expect(run.code, run.stderr).toBe(EXIT.ok);
  expect(run.stdout).toContain('dry run');
  expect(run.stdout).toContain('3 rows in scope, 2 priced differently now');
  expect(run.stdout).toContain('openai/gpt-7-preview: 2 of 2 rows, +$0.00202');
  const rows = (await ctx.admin('GET', '/data?model=gpt-7-preview')).json().data;
  expect(rows.map((r: { estimatedCostUSD: number | null }) => r.estimatedCostUSD)).toEqual([null, null]);
});

test('--apply writes the new costs under an audit id, and a second run finds nothing to change', async () => {
  const applied = JSON.parse((await cli('reprice', '--apply', '--model', 'gpt-7-preview', '--json')).stdout);
  expect(applied).toMatchObject({ dry_run: false, rows: 2, changed: 2, unpriced_after: 0 });
  expect(applied.audit_id).toBeGreaterThan(0);
  const rows = (await ctx.admin('GET', '/data?model=gpt-7-preview')).json().data;
  expect(rows.map((r: { estimatedCostUSD: number }) => r.estimatedCostUSD)).toEqual([0.00101, 0.00101]);
  const audit = (await ctx.admin('GET', `/prices/reprice/${applied.audit_id}`)).json();
  expect(audit.run).toMatchObject({ actor: expect.stringMatching(/^cli:/), status: 'done' });
  expect(audit.changes).toHaveLength(2);
  const again = JSON.parse((await cli('reprice', '--apply', '--json')).stdout);
  expect(again).toMatchObject({ changed: 0, audit_id: null });
});

test('--json prints the body POST /prices/reprice answers for the same scope (snake_case, as the API)', async () => {
  const run = await cli('reprice', '--model', 'gpt-7-preview', '--start', '2026-01-01', '--json');
  expect(run.code, run.stderr).toBe(EXIT.ok);
  const api = await ctx.admin('POST', '/prices/reprice', { model: 'gpt-7-preview', start: '2026-01-01' });
  expect(JSON.parse(run.stdout)).toEqual(api.json());
});

test('a bad date exits 2 and a broken PRICES_FILE exits 3', async () => {
  expect((await cli('reprice', '--start', 'last week')).code).toBe(EXIT.usage);
  const file = path.join(ctx.dir, 'prices.json');
  writeFileSync(file, '{ not json');
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(['node', 'cost-guardian', '--db', ctx.dbPath, 'reprice'], {
    env: { LOG_LEVEL: 'silent', PRICES_FILE: file },
    cwd: ctx.dir,
    stdout,
    stderr,
  });
  expect(code).toBe(EXIT.config);
  expect(stderr.text).toContain('PRICES_FILE');
});

test('rows stored under the default provider move to the one their model belongs to, unless --no-infer-provider', async () => {
  const { token } = await ctx.createToken('older-client');
  // Stored as the build before provider inference stored it: under the default provider.
  await ctx.ingest({
    tracking_token: token,
    model: 'claude-sonnet-4',
    provider: 'openai',
    prompt_tokens: 1000,
  });
  const kept = await cli('reprice', '--no-infer-provider');
  expect(kept.stdout).not.toContain('move from provider');
  const dry = await cli('reprice');
  expect(dry.stdout).toContain('claude-sonnet-4: 1 rows move from provider openai to anthropic');
  const applied = JSON.parse((await cli('reprice', '--apply', '--json')).stdout);
  expect(applied.provider_moves).toEqual([
    { model: 'claude-sonnet-4', from: 'openai', to: 'anthropic', rows: 1 },
  ]);
  const [row] = (await ctx.admin('GET', '/data?model=claude-sonnet-4')).json().data;
  expect(row).toMatchObject({ provider: 'anthropic', estimatedCostUSD: 0.003 });
});

test('stored override entries this build cannot use are named on stderr, and the reprice still runs', async () => {
  await ctx.store.savePriceOverrides({
    document: JSON.stringify({
      openai: [{ id: 'house', match: { regex: '^(?!gpt)house' }, prices: { input_mtok: 1 } }],
    }),
    createdAt: ctx.clock.now(),
    actor: 'older-build',
    note: null,
  });
  const run = await cli('reprice');
  expect(run.code).toBe(EXIT.ok);
  expect(run.stderr).toMatch(
    /^warning: price overrides version 2 \(database\), skipped openai\[0\] house: match\.regex "\^\(\?!gpt\)house" is not accepted by the linear-time \(RE2\) regex engine/m,
  );
});
