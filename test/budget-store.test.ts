import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { historyStartMs } from '../src/budgets/window.js';
import { createSqliteStore, type SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import type { Budget, NewBudget, NewUsage } from '../src/storage/store.js';
import { usage } from './usage-fixture.js';

/**
 * The budget counters at the store level: they move in the usage rows' transaction, give each
 * record the spend after it, fire each threshold once, and survive a rollback and a restart.
 */

const NOV = Date.UTC(2026, 10, 1);
const DEC = Date.UTC(2026, 11, 1);
const NOW = Date.UTC(2026, 10, 20, 12);

let dir: string;
let dbPath: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-budget-store-'));
  dbPath = path.join(dir, 'db.sqlite');
  store = createSqliteStore(dbPath);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function budgetInput(overrides: Partial<NewBudget> = {}): NewBudget {
  return {
    name: 'all spend',
    limitNanoUsd: 1_000_000_000,
    window: { kind: 'month', timeZone: 'UTC' },
    scope: {},
    thresholdsBp: [5000, 8000, 10_000],
    forecastAlert: false,
    channelIds: null,
    ...overrides,
  };
}

async function createCounted(input: NewBudget, nowMs = NOW): Promise<Budget> {
  const saved = await store.budgets.create(input, nowMs);
  if (saved.status !== 'saved') throw new Error(saved.status);
  const target = historyStartMs(input.window, nowMs);
  let countedFrom: number | undefined;
  do countedFrom = await store.budgets.countHistory(saved.budget.id, target, nowMs);
  while (countedFrom !== undefined && countedFrom > target);
  return (await store.budgets.get(saved.budget.id)) as Budget;
}

const at = (ts: number, overrides: Partial<NewUsage> = {}) => usage({ ts, receivedAt: NOW, ...overrides });

test('a budget counts nothing and gives no verdicts until its history is counted', async () => {
  await store.insertUsage([at(NOV + 1000)]);
  const saved = await store.budgets.create(budgetInput(), NOW);
  expect(saved.status).toBe('saved');
  const [outcome] = await store.insertUsage([at(NOW - 1000)]);
  expect(outcome?.budgets).toBeUndefined();
  const [state] = await store.budgets.windowStates(NOW);
  expect(state?.counted).toBe(false);
});

test('history is counted from the rollups, then each record gets the spend after itself', async () => {
  await store.insertUsage([at(NOV + 1000), at(NOV - 1000), at(NOW + 3600_000)]);
  const budget = await createCounted(budgetInput());
  expect(budget.countedFromMs).toBe(historyStartMs(budget.window, NOW));
  const outcomes = await store.insertUsage([at(NOW), at(NOW + 1)]);
  // Two of the three earlier rows are in November (one is in October).
  expect(outcomes.map((o) => o.budgets?.[0]?.spentNanoUsd)).toEqual([3 * 450_000, 4 * 450_000]);
  expect(outcomes[0]?.budgets?.[0]).toEqual({
    budgetId: budget.id,
    name: 'all spend',
    spentNanoUsd: 1_350_000,
    limitNanoUsd: 1_000_000_000,
    unpricedRequests: 0,
    verdict: 'ok',
    windowEndMs: DEC,
  });
  const [state] = await store.budgets.windowStates(NOW);
  expect(state).toMatchObject({
    startMs: NOV,
    endMs: DEC,
    costNanoUsd: 4 * 450_000,
    requests: 4,
    counted: true,
  });
});

test('a late record counts in its own window, not in the current one; a duplicate counts nowhere', async () => {
  const budget = await createCounted(budgetInput());
  const [late] = await store.insertUsage([at(NOV - 5, { eventId: 'e1', ingestTokenId: null })]);
  expect(late?.budgets?.[0]?.spentNanoUsd).toBe(0);
  const series = await store.budgets.spendSeries(budget.id, NOV - 86_400_000, DEC);
  expect(series).toEqual([
    { startMs: NOV - 3600_000, costNanoUsd: 450_000, unpricedRequests: 0, requests: 1 },
  ]);
  const token = await store.createToken({ label: 't', token: 'tok-0123456789abcdef', createdAt: 0 });
  if (token.status !== 'created') throw new Error();
  const first = await store.insertUsage([at(NOW, { ingestTokenId: token.token.id, eventId: 'x' })]);
  const again = await store.insertUsage([at(NOW, { ingestTokenId: token.token.id, eventId: 'x' })]);
  expect(first[0]?.budgets?.[0]?.spentNanoUsd).toBe(450_000);
  expect(again[0]).toMatchObject({ status: 'duplicate', budgets: [{ spentNanoUsd: 450_000 }] });
});

test('the verdict is warn from the highest threshold under 100 % and exceeded at the limit itself', async () => {
  await createCounted(budgetInput({ limitNanoUsd: 1_000_000 }));
  const spent = async (cost: number) =>
    (await store.insertUsage([at(NOW, { costNanoUsd: cost })]))[0]?.budgets?.[0];
  expect(await spent(799_999)).toMatchObject({ verdict: 'ok', spentNanoUsd: 799_999 });
  expect(await spent(1)).toMatchObject({ verdict: 'warn', spentNanoUsd: 800_000 });
  expect(await spent(199_999)).toMatchObject({ verdict: 'warn', spentNanoUsd: 999_999 });
  expect(await spent(1)).toMatchObject({ verdict: 'exceeded', spentNanoUsd: 1_000_000 });
  // The first record of the next window starts from zero.
  const [next] = await store.insertUsage([usage({ ts: DEC, receivedAt: DEC, costNanoUsd: 10 })]);
  expect(next?.budgets?.[0]).toMatchObject({
    verdict: 'ok',
    spentNanoUsd: 10,
    windowEndMs: Date.UTC(2027, 0, 1),
  });
});

test('unpriced usage is counted beside the spend, never as free', async () => {
  await createCounted(budgetInput());
  const [outcome] = await store.insertUsage([at(NOW, { costNanoUsd: null, pricingStatus: 'unpriced' })]);
  expect(outcome?.budgets?.[0]).toMatchObject({ spentNanoUsd: 0, unpricedRequests: 1 });
});

test('scopes: token, exact model, model prefix, provider, user and tag, alone and combined', async () => {
  const ids: Record<string, number> = {};
  const token = await store.createToken({ label: 't', token: 'tok-0123456789abcdef', createdAt: 0 });
  if (token.status !== 'created') throw new Error();
  const seven = token.token.id;
  const scopes: Record<string, NewBudget['scope']> = {
    token: { tokenId: seven },
    model: { model: 'gpt-4o' },
    prefix: { modelPrefix: 'gpt-4o' },
    provider: { provider: 'anthropic' },
    user: { user: 'alice' },
    tag: { tags: [{ key: 'team', value: 'search' }] },
    tokenAndPrefix: { tokenId: seven, modelPrefix: 'gpt-4o' },
  };
  for (const [name, scope] of Object.entries(scopes))
    ids[name] = (await createCounted(budgetInput({ name, scope }))).id;
  const records = [
    at(NOW, { model: 'gpt-4o', ingestTokenId: seven }),
    at(NOW, { model: 'gpt-4o-mini', user: 'alice' }),
    at(NOW, { provider: 'anthropic', model: 'claude-sonnet-4', tags: { team: 'search' } }),
  ];
  const outcomes = await store.insertUsage(records);
  const matched = outcomes.map((o) =>
    (o.budgets ?? []).map((v) => Object.keys(ids).find((name) => ids[name] === v.budgetId)).sort(),
  );
  expect(matched).toEqual([
    ['model', 'prefix', 'token', 'tokenAndPrefix'],
    ['prefix', 'user'],
    ['provider', 'tag'],
  ]);
});

test('each threshold fires once per window, with one outbox row per channel, also after a restart', async () => {
  const channel = await store.alerts.createChannel(
    { name: 'hook', kind: 'webhook', url: 'http://127.0.0.1:9/hook', secret: 's', enabled: true },
    NOW,
  );
  await createCounted(budgetInput({ limitNanoUsd: 1_000_000 }));
  // 10 jobs in one group commit cross 50 % and 80 % together.
  await Promise.all(Array.from({ length: 10 }, () => store.insertUsage([at(NOW, { costNanoUsd: 85_000 })])));
  let events = await store.alerts.listEvents(10);
  expect(events.map((e) => JSON.parse(e.payload).thresholdBp).sort()).toEqual([5000, 8000]);
  const deliveries = await store.alerts.listDeliveries(10);
  expect(deliveries).toHaveLength(2);
  expect(deliveries.every((d) => d.channelId === channel.id && d.status === 'pending')).toBe(true);

  await store.close();
  store = createSqliteStore(dbPath);
  await store.insertUsage([at(NOW, { costNanoUsd: 1 })]);
  expect(await store.budgets.checkThresholds(NOW)).toBe(0);
  await store.insertUsage([at(NOW, { costNanoUsd: 200_000 })]);
  events = await store.alerts.listEvents(10);
  expect(events.map((e) => JSON.parse(e.payload).thresholdBp).sort()).toEqual([10_000, 5000, 8000]);
});

test('a new budget that its past already puts over a threshold alerts when its counting ends', async () => {
  await store.insertUsage([at(NOW, { costNanoUsd: 900_000 })]);
  await createCounted(budgetInput({ limitNanoUsd: 1_000_000 }));
  const events = await store.alerts.listEvents(10);
  expect(events.map((e) => JSON.parse(e.payload).thresholdBp).sort()).toEqual([5000, 8000]);
});

test('a write that rolls back leaves the counters and the alerts as they were', async () => {
  const budget = await createCounted(budgetInput({ limitNanoUsd: 1_000_000 }));
  const token = await store.createToken({ label: 't', token: 'tok-0123456789abcdef', createdAt: 0 });
  if (token.status !== 'created') throw new Error();
  const tokenId = token.token.id;
  // Two records with the same event id in one bulk load make the whole load throw.
  await expect(
    store.loadUsage([
      at(NOW, { ingestTokenId: tokenId, eventId: 'same', costNanoUsd: 900_000 }),
      at(NOW, { ingestTokenId: tokenId, eventId: 'same', costNanoUsd: 900_000 }),
    ]),
  ).rejects.toThrow();
  expect((await store.budgets.windowStates(NOW))[0]?.costNanoUsd).toBe(0);
  expect(await store.alerts.listEvents(10)).toEqual([]);
  const [outcome] = await store.insertUsage([at(NOW, { costNanoUsd: 100 })]);
  expect(outcome?.budgets?.[0]?.spentNanoUsd).toBe(100);
  expect(await store.budgets.spendSeries(budget.id, NOV, DEC)).toHaveLength(1);
});

test('a job that fails inside a group commit is rolled back alone; the others are counted once', async () => {
  await createCounted(budgetInput());
  // The middle job names a token that does not exist: its insert fails, the transaction is rerun
  // with a savepoint per job, and only the two good records count.
  const results = await Promise.allSettled([
    store.insertUsage([at(NOW, { costNanoUsd: 100 })]),
    store.insertUsage([at(NOW, { costNanoUsd: 1000, ingestTokenId: 999, eventId: 'x' })]),
    store.insertUsage([at(NOW, { costNanoUsd: 10 })]),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  const spent = results.map((r) =>
    r.status === 'fulfilled' ? r.value[0]?.budgets?.[0]?.spentNanoUsd : null,
  );
  expect(spent).toEqual([100, null, 110]);
  expect((await store.budgets.windowStates(NOW))[0]).toMatchObject({ costNanoUsd: 110, requests: 2 });
  const raw = new Database(dbPath, { readonly: true });
  expect(raw.prepare('SELECT SUM(cost_nanousd) AS c FROM budget_spend').get()).toEqual({ c: 110 });
  raw.close();
});

test('a reprice moves the counters by the cost difference; the reset empties them', async () => {
  const budget = await createCounted(budgetInput());
  const [created] = await store.insertUsage([at(NOW)]);
  const runId = await store.createRepriceRun({
    kind: 'reprice',
    undoOf: null,
    actor: 'test',
    requestId: null,
    startedAt: NOW,
    scope: {},
    priceSources: [],
  });
  await store.applyRepricedCosts(runId, [
    {
      usageId: created?.id ?? 0,
      old: { costNanoUsd: 450_000, status: 'priced', source: 'builtin@1', rates: null },
      new: { costNanoUsd: null, status: 'unpriced', source: null, rates: null },
    },
  ]);
  expect((await store.budgets.windowStates(NOW))[0]).toMatchObject({ costNanoUsd: 0, unpricedRequests: 1 });
  await store.resetUsage();
  expect((await store.budgets.windowStates(NOW))[0]).toMatchObject({ costNanoUsd: 0, requests: 0 });
  expect(await store.budgets.spendSeries(budget.id, 0, DEC * 2)).toEqual([]);
});

test('a change of scope counts the budget again; a new limit keeps the counters and checks thresholds', async () => {
  const budget = await createCounted(budgetInput());
  await store.insertUsage([at(NOW, { model: 'a' }), at(NOW, { model: 'b' })]);
  const limited = await store.budgets.update(budget.id, budgetInput({ limitNanoUsd: 1_000_000 }), NOW);
  expect(limited).toMatchObject({ status: 'saved', budget: { countedFromMs: budget.countedFromMs } });
  expect((await store.alerts.listEvents(10)).map((e) => JSON.parse(e.payload).thresholdBp)).toEqual([
    8000, 5000,
  ]);
  const rescoped = await store.budgets.update(budget.id, budgetInput({ scope: { model: 'a' } }), NOW);
  expect(rescoped).toMatchObject({ status: 'saved', budget: { countedFromMs: null } });
  const counted = await createCountedAgain(budget.id);
  expect(counted.costNanoUsd).toBe(450_000);
});

async function createCountedAgain(id: number) {
  const budget = (await store.budgets.get(id)) as Budget;
  const target = historyStartMs(budget.window, NOW);
  while (((await store.budgets.countHistory(id, target, NOW)) ?? 0) > target);
  return (await store.budgets.windowStates(NOW)).find((s) => s.budgetId === id) as { costNanoUsd: number };
}

describe('another process', () => {
  test('a budget created by another connection is picked up at the next write', async () => {
    const other = createSqliteStore(dbPath);
    try {
      const saved = await other.budgets.create(budgetInput({ name: 'from cli' }), NOW);
      if (saved.status !== 'saved') throw new Error();
      await other.budgets.countHistory(saved.budget.id, historyStartMs(saved.budget.window, NOW), NOW);
      const target = historyStartMs(saved.budget.window, NOW);
      while (((await other.budgets.countHistory(saved.budget.id, target, NOW)) ?? 0) > target);
      await other.insertUsage([at(NOW, { costNanoUsd: 7 })]);
    } finally {
      await other.close();
    }
    const [outcome] = await store.insertUsage([at(NOW, { costNanoUsd: 5 })]);
    expect(outcome?.budgets?.[0]).toMatchObject({ name: 'from cli', spentNanoUsd: 12 });
    const raw = new Database(dbPath, { readonly: true });
    expect(raw.prepare('SELECT SUM(cost_nanousd) AS c FROM budget_spend').get()).toEqual({ c: 12 });
    raw.close();
  });
});
