import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { type CalendarUnit, Zone } from '../src/lib/zoned-time.js';
import { createSqliteStore, type SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import type { NewUsage, PricingStatus, UsageFilter } from '../src/storage/store.js';
import {
  listCells,
  type TimeInterval,
  type UsageAggregateQuery,
  type UsageAggregateResult,
  type UsageGroupBy,
  type UsageTotals,
} from '../src/storage/usage-aggregate.js';

/**
 * Property-style checks that the rollups never drift from usage_log: after random ingests,
 * duplicates, a failed write, token deletions, reprices and a reset, every rollup row equals a
 * recomputation from the raw rows, and every analytics question gets the same answer from the
 * rollups as from the raw rows (and as from a plain recomputation in this file).
 */

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const START = Date.UTC(2025, 8, 20);
const SPAN_MS = 75 * 86_400_000;
const MODELS = [
  { provider: 'openai', model: 'gpt-4o-mini' },
  { provider: 'openai', model: 'gpt-4o' },
  { provider: 'anthropic', model: 'claude-sonnet-4' },
  { provider: 'openai', model: 'ft:gpt-unknown' },
];
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const TAG_VALUES: Record<string, string[]> = {
  team: ['search', 'ads', 'infra'],
  env: ['prod', 'staging'],
  'feature.name': ['chat', 'summary', 'a:b'],
};

let dir: string;
let store: SqliteStore;
let next: () => number;
let tokenIds: number[];

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-rollups-'));
  store = createSqliteStore(path.join(dir, 'usage.sqlite'));
  next = random(20251128);
  tokenIds = [];
  for (const label of ['web', 'batch-jobs', 'mobile', 'internal']) {
    const created = await store.createToken({ label, token: `tok-${label}-0123456789`, createdAt: START });
    if (created.status === 'created') tokenIds.push(created.token.id);
  }
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;

function randomRecord(eventNumber: number): NewUsage {
  const { provider, model } = pick(MODELS);
  const promptTokens = Math.floor(next() * 5000);
  const completionTokens = Math.floor(next() * 2000);
  const cachedTokens = Math.floor(next() * promptTokens * 0.5);
  const unpriced = model.startsWith('ft:');
  const tags: Record<string, string> = {};
  for (const [key, values] of Object.entries(TAG_VALUES)) if (next() < 0.5) tags[key] = pick(values);
  const legacy = next() < 0.05;
  // Edges matter: some calls land exactly on hour and day boundaries.
  let ts = START + Math.floor(next() * SPAN_MS);
  if (next() < 0.1) ts -= ts % 3_600_000;
  return {
    ts,
    receivedAt: ts,
    source: legacy ? 'legacy' : 'ingest',
    ingestTokenId: legacy ? null : pick(tokenIds),
    eventId: legacy || next() < 0.2 ? null : `evt-${eventNumber}`,
    provider,
    model,
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedTokens,
    cacheWriteTokens: 0,
    cacheWriteExtendedTokens: 0,
    reasoningTokens: Math.floor(next() * completionTokens * 0.3),
    inputAudioTokens: 0,
    outputAudioTokens: next() < 0.1 ? 7 : 0,
    serviceTier: null,
    batch: false,
    completionWindow: null,
    costNanoUsd: unpriced ? null : promptTokens * 150 + completionTokens * 600,
    pricingStatus: unpriced ? 'unpriced' : 'priced',
    pricingSource: unpriced ? null : 'test',
    pricingRates: null,
    clientCostNanoUsd: null,
    meta: null,
    rawUsage: null,
    user: next() < 0.6 ? pick(USERS) : null,
    tags: Object.keys(tags).length > 0 ? tags : null,
  };
}

interface RawRow extends Omit<UsageTotals, 'requests' | 'unpricedRequests' | 'costNanoUsd'> {
  id: number;
  ts: number;
  ingestTokenId: number | null;
  provider: string;
  model: string;
  user: string | null;
  tags: Record<string, string> | null;
  costNanoUsd: number | null;
}

function rawRows(): RawRow[] {
  const rows = store.db
    .prepare(`SELECT id, ts, ingest_token_id AS ingestTokenId, provider, model, end_user AS user, tags,
        prompt_tokens AS promptTokens, completion_tokens AS completionTokens, total_tokens AS totalTokens,
        cached_tokens AS cachedTokens, cache_write_tokens AS cacheWriteTokens, reasoning_tokens AS reasoningTokens,
        input_audio_tokens AS inputAudioTokens, output_audio_tokens AS outputAudioTokens, cost_nanousd AS costNanoUsd
      FROM usage_log`)
    .all() as (Omit<RawRow, 'tags'> & { tags: string | null })[];
  return rows.map((row) => ({ ...row, tags: row.tags === null ? null : JSON.parse(row.tags) }));
}

const MEASURES = [
  'promptTokens',
  'completionTokens',
  'totalTokens',
  'cachedTokens',
  'cacheWriteTokens',
  'reasoningTokens',
  'inputAudioTokens',
  'outputAudioTokens',
] as const;

function rowTotals(row: RawRow): UsageTotals {
  const totals = {
    requests: 1,
    costNanoUsd: row.costNanoUsd ?? 0,
    unpricedRequests: row.costNanoUsd === null ? 1 : 0,
  };
  for (const field of MEASURES) Object.assign(totals, { [field]: row[field] });
  return totals as UsageTotals;
}

function add(map: Map<string, UsageTotals>, key: string, totals: UsageTotals): void {
  const existing = map.get(key);
  if (!existing) map.set(key, { ...totals });
  else for (const field of Object.keys(totals) as (keyof UsageTotals)[]) existing[field] += totals[field];
}

/**
 * The details each tier keeps per dimension (rollup-writer.ts explains why): full = per token,
 * provider and model; token = per token; model = per provider and model; none = one row per value.
 */
type Detail = 'full' | 'token' | 'model' | 'none';
const LAYOUT: Record<
  'all' | 'user' | 'tag',
  Partial<Record<'quarter_hour' | 'hour' | 'day' | 'month', Detail[]>>
> = {
  all: {
    month: ['full'],
    day: ['full', 'token', 'model', 'none'],
    hour: ['full', 'token', 'model', 'none'],
    quarter_hour: ['model', 'none'],
  },
  user: { month: ['full', 'none'], day: ['token'] },
  tag: { month: ['full'], day: ['full', 'none'], hour: ['none'] },
};

/** The rollup tables recomputed from usage_log, written independently of rollup-writer.ts. */
function expectedRollups(): Map<string, UsageTotals> {
  const expected = new Map<string, UsageTotals>();
  for (const row of rawRows()) {
    const date = new Date(row.ts);
    const buckets = {
      quarter_hour: Math.floor(row.ts / 900_000) * 900_000,
      hour: Math.floor(row.ts / 3_600_000) * 3_600_000,
      day: Math.floor(row.ts / 86_400_000) * 86_400_000,
      month: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1),
    };
    const dims: [string, string][] = [['', '']];
    if (row.user !== null) dims.push(['user', row.user]);
    for (const [key, value] of Object.entries(row.tags ?? {})) dims.push([`tag:${key}`, value]);
    for (const [unit, bucket] of Object.entries(buckets)) {
      for (const [dim, value] of dims) {
        const family = dim === '' ? 'all' : dim === 'user' ? 'user' : 'tag';
        for (const detail of LAYOUT[family][unit as keyof typeof buckets] ?? []) {
          const token = detail === 'full' || detail === 'token' ? (row.ingestTokenId ?? 0) : 0;
          const [provider, model] =
            detail === 'full' || detail === 'model' ? [row.provider, row.model] : ['', ''];
          add(expected, [unit, dim, detail, bucket, value, token, provider, model].join('|'), rowTotals(row));
        }
      }
    }
  }
  return expected;
}

function storedRollups(): Map<string, UsageTotals> {
  const stored = new Map<string, UsageTotals>();
  for (const unit of ['quarter_hour', 'hour', 'day', 'month']) {
    const rows = store.db.prepare(`SELECT * FROM usage_rollup_${unit}`).all() as Record<
      string,
      string | number
    >[];
    for (const row of rows) {
      const key = [
        unit,
        row.dim,
        row.detail,
        row.bucket_start,
        row.dim_value,
        row.ingest_token_id,
        row.provider,
        row.model,
      ].join('|');
      stored.set(key, {
        requests: Number(row.requests),
        promptTokens: Number(row.prompt_tokens),
        completionTokens: Number(row.completion_tokens),
        totalTokens: Number(row.total_tokens),
        cachedTokens: Number(row.cached_tokens),
        cacheWriteTokens: Number(row.cache_write_tokens),
        reasoningTokens: Number(row.reasoning_tokens),
        inputAudioTokens: Number(row.input_audio_tokens),
        outputAudioTokens: Number(row.output_audio_tokens),
        costNanoUsd: Number(row.cost_nanousd),
        unpricedRequests: Number(row.unpriced_requests),
      });
    }
  }
  return stored;
}

function expectRollupsExact(): void {
  const expected = expectedRollups();
  const stored = storedRollups();
  expect(stored.size).toBe(expected.size);
  expect(Object.fromEntries(stored)).toEqual(Object.fromEntries(expected));
}

async function ingest(count: number, firstEvent: number): Promise<void> {
  // Several concurrent calls so that group commits hold several jobs.
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < count; i += 25) {
    const records = Array.from({ length: Math.min(25, count - i) }, (_, j) =>
      randomRecord(firstEvent + i + j),
    );
    calls.push(store.insertUsage(records));
  }
  await Promise.all(calls);
}

/**
 * Reprices a random share of the rows through the Store's one cost-changing path
 * (applyRepricedCosts), some of them also moving to another provider, plus one change whose old
 * pricing is stale (it must be skipped).
 */
async function reprice(share: number): Promise<number> {
  const rows = store.db
    .prepare(
      'SELECT id, provider, cost_nanousd AS cost, pricing_status AS status, pricing_source AS source, pricing_rates AS rates FROM usage_log',
    )
    .all() as {
    id: number;
    provider: string;
    cost: number | null;
    status: PricingStatus;
    source: string | null;
    rates: string | null;
  }[];
  const changes = rows
    .filter(() => next() < share)
    .map((row) => {
      const costNanoUsd = next() < 0.2 ? null : Math.floor(next() * 5_000_000);
      // Some changes also move the row to another provider (as provider inference does).
      const moveTo =
        next() < 0.3 ? (['anthropic', 'google', 'openai'][Math.floor(next() * 3)] as string) : null;
      return {
        usageId: row.id,
        old: { costNanoUsd: row.cost, status: row.status, source: row.source, rates: row.rates },
        new: {
          costNanoUsd,
          status: (costNanoUsd === null ? 'unpriced' : 'priced') as PricingStatus,
          source: 'reprice-test',
          rates: null,
        },
        ...(moveTo !== null && moveTo !== row.provider
          ? { provider: { old: row.provider, new: moveTo } }
          : {}),
      };
    });
  const stale = rows[0];
  if (stale) {
    changes.push({
      usageId: stale.id,
      old: { costNanoUsd: 1, status: 'priced', source: 'not-what-is-stored', rates: null },
      new: { costNanoUsd: 2, status: 'priced', source: 'reprice-test', rates: null },
    });
  }
  // Pricing as stored, but the row is no longer under the provider the change moves it from.
  const moved = rows.find((row) => !changes.some((change) => change.usageId === row.id));
  if (moved) {
    changes.push({
      usageId: moved.id,
      old: { costNanoUsd: moved.cost, status: moved.status, source: moved.source, rates: moved.rates },
      new: { costNanoUsd: 3, status: 'priced', source: 'reprice-test', rates: null },
      provider: { old: `not-${moved.provider}`, new: 'anthropic' },
    });
  }
  const runId = await store.createRepriceRun({
    kind: 'reprice',
    undoOf: null,
    actor: 'test',
    requestId: null,
    startedAt: START,
    scope: {},
    priceSources: ['test'],
  });
  const { applied, skipped } = await store.applyRepricedCosts(runId, changes);
  expect(skipped).toBeGreaterThanOrEqual(moved ? 2 : 1);
  expect(changes.filter((change) => 'provider' in change).length).toBeGreaterThan(0);
  return applied;
}

test('rollups equal a recomputation from the raw rows after ingests, duplicates, deletions, reprices and a reset', async () => {
  await ingest(1500, 0);
  expectRollupsExact();

  // Re-sent events are duplicates and must not count twice.
  const before = rawRows().length;
  await ingest(400, 0);
  expect(rawRows().length).toBeLessThan(before + 400);
  expectRollupsExact();

  // A job that fails (a CHECK constraint) in the same group commit as good jobs leaves no trace.
  const bad = { ...randomRecord(50_000), pricingStatus: 'bogus' as PricingStatus };
  const results = await Promise.allSettled([
    store.insertUsage([randomRecord(40_000), randomRecord(40_001)]),
    store.insertUsage([randomRecord(40_002), bad]),
    store.insertUsage([randomRecord(40_003)]),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expectRollupsExact();
  // Each token's last-seen time is that of its latest stored row: the failed job touched nothing.
  const lastSeen = store.db
    .prepare(
      `SELECT t.id, t.last_seen_at AS seen, (SELECT MAX(received_at) FROM usage_log u WHERE u.ingest_token_id = t.id) AS latest
       FROM ingest_tokens t`,
    )
    .all() as { seen: number | null; latest: number | null }[];
  for (const row of lastSeen) expect(row.seen).toBe(row.latest);

  expect(await store.deleteToken(tokenIds[0] ?? 0, START)).toBe(true);
  expectRollupsExact();

  expect(await reprice(0.3)).toBeGreaterThan(100);
  expectRollupsExact();

  await store.resetUsage();
  expect(storedRollups().size).toBe(0);
  await ingest(1200, 100_000);
  await reprice(0.2);
  expectRollupsExact();
  await checkQueries(60);
});

test('rebuilding the rollups from the raw rows gives the incrementally maintained tables', async () => {
  await ingest(800, 0);
  await reprice(0.2);
  const incremental = storedRollups();
  store.db.transaction(() => {
    store.db.exec(
      'DELETE FROM usage_rollup_quarter_hour; DELETE FROM usage_rollup_hour; DELETE FROM usage_rollup_day; DELETE FROM usage_rollup_month;',
    );
  })();
  expect(storedRollups().size).toBe(0);
  const { RollupWriter } = await import('../src/storage/sqlite/rollup-writer.js');
  store.db.transaction(() => new RollupWriter(store.db).rebuild())();
  expect(Object.fromEntries(storedRollups())).toEqual(Object.fromEntries(incremental));
});

test('analytics answers from the rollups equal answers from the raw rows, in any time zone', async () => {
  await ingest(2000, 0);
  await reprice(0.1);
  await checkQueries(120);
});

const ZONES = [
  'UTC',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Adelaide',
  'Asia/Kathmandu',
  'America/Santiago',
];
const UNITS: CalendarUnit[] = ['hour', 'day', 'week', 'month'];

function randomGroupBy(): UsageGroupBy | null {
  const kinds: (UsageGroupBy | null)[] = [
    null,
    { kind: 'model' },
    { kind: 'provider' },
    { kind: 'token' },
    { kind: 'user' },
    { kind: 'tag', key: pick(Object.keys(TAG_VALUES)) },
  ];
  return pick(kinds);
}

function randomFilter(): UsageFilter {
  const filter: UsageFilter = {};
  if (next() < 0.2) filter.model = pick(MODELS).model;
  if (next() < 0.15) filter.provider = pick(MODELS).provider;
  if (next() < 0.2) filter.ingestTokenId = pick(tokenIds);
  if (next() < 0.2) filter.user = pick(USERS);
  if (next() < 0.3) {
    const key = pick(Object.keys(TAG_VALUES));
    filter.tags = [{ key, value: pick(TAG_VALUES[key] ?? []) }];
    if (next() < 0.2) filter.tags = [...filter.tags, { key: 'env', value: 'prod' }];
  }
  return filter;
}

function randomIntervals(): TimeInterval[] {
  const zone = new Zone(pick(ZONES));
  const unit = pick(UNITS);
  const start = START - 86_400_000 + Math.floor(next() * (SPAN_MS + 2 * 86_400_000));
  const length = unit === 'hour' ? next() * 3 * 86_400_000 : next() ** 2 * SPAN_MS;
  const end = start + Math.max(1, Math.floor(length));
  const starts = zone.buckets(unit, start, end, 10_000) ?? [];
  return starts.map((at, i) => ({
    startMs: Math.max(at, start),
    endMs: Math.min(starts[i + 1] ?? end, end),
  }));
}

/** The same question answered by filtering and summing raw rows in JavaScript. */
function recompute(query: UsageAggregateQuery, rows: RawRow[]): Map<string, UsageTotals> {
  const { filter, groupBy } = query;
  const result = new Map<string, UsageTotals>();
  for (const row of rows) {
    if (filter.model !== undefined && row.model !== filter.model) continue;
    if (filter.provider !== undefined && row.provider !== filter.provider) continue;
    if (filter.ingestTokenId !== undefined && row.ingestTokenId !== filter.ingestTokenId) continue;
    if (filter.user !== undefined && row.user !== filter.user) continue;
    if (filter.tags?.some((tag) => row.tags?.[tag.key] !== tag.value)) continue;
    const interval = query.intervals.findIndex((i) => row.ts >= i.startMs && row.ts < i.endMs);
    if (interval < 0) continue;
    let group: string | null = null;
    if (groupBy?.kind === 'model') group = row.model;
    if (groupBy?.kind === 'provider') group = row.provider;
    if (groupBy?.kind === 'token') group = row.ingestTokenId === null ? null : String(row.ingestTokenId);
    if (groupBy?.kind === 'user') group = row.user;
    if (groupBy?.kind === 'tag') group = row.tags?.[groupBy.key] ?? null;
    add(result, `${interval}|${group}`, rowTotals(row));
  }
  return result;
}

async function checkQueries(rounds: number): Promise<void> {
  const rows = rawRows();
  let fromRollups = 0;
  for (let round = 0; round < rounds; round += 1) {
    const query: UsageAggregateQuery = {
      filter: randomFilter(),
      intervals: randomIntervals(),
      groupBy: randomGroupBy(),
    };
    const auto = await store.aggregateUsage(query);
    const raw = await store.aggregateUsage({ ...query, source: 'raw' });
    expect(raw.source).toBe('raw');
    if (auto.source === 'rollups') fromRollups += 1;
    const asMap = (result: UsageAggregateResult) =>
      Object.fromEntries(listCells(result).map((cell) => [`${cell.interval}|${cell.group}`, cell.totals]));
    const expected = Object.fromEntries(recompute(query, rows));
    expect(asMap(raw), JSON.stringify(query)).toEqual(expected);
    expect(asMap(auto), JSON.stringify(query)).toEqual(expected);
  }
  expect(fromRollups).toBeGreaterThan(rounds / 2);
}

test('a bulk load keeps the rollups exact and writes nothing when one row is a duplicate', async () => {
  const records = Array.from({ length: 333 }, (_, i) => randomRecord(i));
  expect(await store.loadUsage(records)).toBe(333);
  expectRollupsExact();
  const again = [
    randomRecord(1000),
    ...records.filter((r) => r.eventId !== null && r.ingestTokenId !== null).slice(0, 1),
  ];
  await expect(store.loadUsage(again)).rejects.toThrow(/UNIQUE/);
  expect(rawRows()).toHaveLength(333);
  expectRollupsExact();
});

test('suspending the usage indexes for a load puts the same indexes back', async () => {
  const { suspendUsageIndexes } = await import('../src/storage/sqlite/bulk-load.js');
  const indexes = () =>
    store.db
      .prepare(
        `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_log' ORDER BY name`,
      )
      .all();
  const before = indexes();
  const restore = suspendUsageIndexes(store.db, { unique: true });
  expect(indexes().filter((index) => (index as { sql: string | null }).sql !== null)).toEqual([]);
  await store.loadUsage(Array.from({ length: 120 }, (_, i) => randomRecord(i)));
  restore();
  expect(indexes()).toEqual(before);
  expectRollupsExact();
});
