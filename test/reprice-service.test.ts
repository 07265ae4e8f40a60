import { afterEach, beforeEach, expect, test } from 'vitest';
import { createRepriceService, createRepriceServiceFromConfig } from '../src/repricing/reprice-service.js';
import { createTestApp, type TestContext } from './helpers.js';

/** The reprice service as the CLI calls it, on a real SQLite file. */

let ctx: TestContext;
let token: string;

beforeEach(async () => {
  ctx = await createTestApp();
  token = (await ctx.createToken('prod')).token;
});
afterEach(async () => {
  await ctx.close();
});

async function ingest(model: string, count: number) {
  for (let i = 0; i < count; i += 1) {
    const response = await ctx.ingest({
      tracking_token: token,
      model,
      prompt_tokens: 1000 + i,
      completion_tokens: 10,
    });
    expect(response.statusCode).toBe(201);
  }
}

function service(chunkRows: number) {
  return createRepriceService({ store: ctx.store, prices: ctx.app.deps.prices, clock: ctx.clock, chunkRows });
}

test('a reprice walks the rows in bounded chunks and audits every changed row once', async () => {
  await ingest('gpt-7-preview', 5);
  await ingest('gpt-4o-mini', 2);
  await ctx.app.deps.prices.putOverrides(
    { openai: [{ id: 'gpt-7-preview', prices: { input_mtok: 1, output_mtok: 1 } }] },
    { actor: 'test', note: null },
  );
  const result = await service(2).reprice({ dryRun: false, actor: 'cli' });
  expect(result).toMatchObject({ rows: 7, changed: 5, skipped: 0, unpricedBefore: 5, unpricedAfter: 0 });
  // (1000..1004 + 10) tokens at $1/M each.
  expect(result.newTotalNanoUsd - result.oldTotalNanoUsd).toBe((5 * 1010 + 10) * 1000);
  const changes = await ctx.store.listRepriceChanges(result.auditId as number, 0, 100);
  expect(changes.map((change) => change.usageId)).toEqual([1, 2, 3, 4, 5]);
  const run = await ctx.store.getRepriceRun(result.auditId as number);
  expect(run).toMatchObject({ status: 'done', rowsScanned: 7, rowsChanged: 5, actor: 'cli', scope: {} });
});

test('an undo walks the audit in chunks too, and an undo cannot itself be undone', async () => {
  await ingest('gpt-7-preview', 3);
  await ctx.app.deps.prices.putOverrides(
    { openai: [{ id: 'gpt-7-preview', prices: { input_mtok: 1, output_mtok: 1 } }] },
    { actor: 'test', note: null },
  );
  const reprice = service(2);
  const applied = await reprice.reprice({ dryRun: false, actor: 'cli' });
  const undone = await reprice.undo(applied.auditId as number, { actor: 'cli' });
  expect(undone).toMatchObject({ changed: 3, newTotalNanoUsd: 0, unpricedAfter: 3 });
  await expect(reprice.undo(undone.auditId as number, { actor: 'cli' })).rejects.toMatchObject({
    code: 'invalid_request',
  });
  // Undoing again finds every row already restored: nothing is overwritten.
  expect(await reprice.undo(applied.auditId as number, { actor: 'cli' })).toMatchObject({
    changed: 0,
    skipped: 3,
  });
});

test('only one reprice runs at a time; the second is a conflict, not a queue', async () => {
  await ingest('gpt-4o-mini', 1);
  const reprice = service(5000);
  const first = reprice.reprice({ dryRun: true, actor: 'a' });
  await expect(reprice.reprice({ dryRun: true, actor: 'b' })).rejects.toMatchObject({ code: 'conflict' });
  await expect(first).resolves.toMatchObject({ rows: 1, changed: 0 });
});

test('a row whose pricing changed since it was read is skipped, never overwritten', async () => {
  await ingest('gpt-4o-mini', 1);
  const [row] = await ctx.store.scanUsageForReprice({}, null, 10);
  if (!row) throw new Error('no row');
  const old = {
    costNanoUsd: row.costNanoUsd,
    status: row.pricingStatus,
    source: row.pricingSource,
    rates: row.pricingRates,
  };
  const runId = await ctx.store.createRepriceRun({
    kind: 'reprice',
    undoOf: null,
    actor: 'test',
    requestId: null,
    startedAt: ctx.clock.now(),
    scope: {},
    priceSources: [],
  });
  const stale = { ...old, costNanoUsd: 1 };
  const result = await ctx.store.applyRepricedCosts(runId, [
    { usageId: row.id, old: stale, new: { ...old, costNanoUsd: 2 } },
  ]);
  expect(result).toEqual({ applied: 0, skipped: 1 });
  const [after] = await ctx.store.scanUsageForReprice({}, null, 10);
  expect(after?.costNanoUsd).toBe(156_000);
  expect(await ctx.store.listRepriceChanges(runId, 0, 10)).toEqual([]);
  expect(await ctx.store.getRepriceRun(runId)).toMatchObject({
    rowsChanged: 0,
    rowsSkipped: 1,
    status: 'running',
  });
});

test('a run that fails part-way is recorded as failed with its error', async () => {
  await ingest('gpt-7-preview', 1);
  await ctx.app.deps.prices.putOverrides(
    { openai: [{ id: 'gpt-7-preview', prices: { input_mtok: 1, output_mtok: 1 } }] },
    { actor: 'test', note: null },
  );
  // A real failure inside the write transaction: the audit table is gone.
  ctx.store.db.exec('DROP TABLE reprice_changes');
  await expect(service(5000).reprice({ dryRun: false, actor: 'cli' })).rejects.toThrow(
    /no such table: reprice_changes/,
  );
  const [run] = await ctx.store.listRepriceRuns(1);
  expect(run).toMatchObject({
    status: 'failed',
    error: expect.stringMatching(/reprice_changes/),
    rowsScanned: 1,
  });
});

test('the CLI builds the same prices as the server from config: database overrides included', async () => {
  await ingest('gpt-7-preview', 2);
  await ctx.app.deps.prices.putOverrides(
    { openai: [{ id: 'gpt-7-preview', prices: { input_mtok: 2, output_mtok: 2 } }] },
    { actor: 'test', note: null },
  );
  const cli = await createRepriceServiceFromConfig({
    config: ctx.app.deps.config,
    store: ctx.store,
    clock: ctx.clock,
  });
  const result = await cli.reprice({ model: 'gpt-7-preview', dryRun: true, actor: 'cli' });
  expect(result).toMatchObject({ rows: 2, changed: 2, unpricedAfter: 0, auditId: null });
  expect(result.priceSources[0]).toBe('override-db@v1');
});
