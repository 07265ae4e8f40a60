import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createSqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../src/storage/store.js';
import { listCells } from '../src/storage/usage-aggregate.js';
import { usage } from './usage-fixture.js';

/** Every backend runs this suite unchanged. A backend that needs it changed has leaked through the interface. */
const BACKENDS: { name: string; open: () => { store: Store; dispose: () => void } }[] = [
  {
    name: 'sqlite',
    open: () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'cg-contract-'));
      return {
        store: createSqliteStore(path.join(dir, 'db.sqlite')),
        dispose: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
];

for (const backend of BACKENDS) {
  describe(`Store contract: ${backend.name}`, () => {
    let store: Store;
    let dispose: () => void;
    beforeEach(() => {
      ({ store, dispose } = backend.open());
    });
    afterEach(async () => {
      await store.close();
      dispose();
    });

    const newToken = async (label: string) => {
      const result = await store.createToken({
        label,
        token: `tok-${label}-0123456789abcdef`,
        createdAt: 1000,
      });
      if (result.status !== 'created') throw new Error(result.status);
      return result.token;
    };

    test('tokens: create, find by exact value, refuse a live label twice, toggle, soft-delete', async () => {
      const token = await newToken('a');
      expect(token).toMatchObject({ label: 'a', active: true, createdAt: 1000, lastSeenAt: null });
      expect(await store.createToken({ label: 'a', token: 'other-value-000000', createdAt: 1 })).toEqual({
        status: 'label_taken',
      });
      expect(await store.createToken({ label: 'b', token: token.token, createdAt: 1 })).toEqual({
        status: 'token_taken',
      });
      expect(await store.findTokenByValue(token.token)).toEqual(token);
      expect(await store.findTokenByValue(token.token.toUpperCase())).toBeUndefined();
      expect((await store.setTokenActive(token.id, false))?.active).toBe(false);
      expect((await store.findTokenByValue(token.token))?.active).toBe(false);
      expect(await store.setTokenActive(9999, true)).toBeUndefined();
      expect(await store.deleteToken(token.id, 2000)).toBe(true);
      expect(await store.deleteToken(token.id, 2000)).toBe(false);
      expect(await store.findTokenByValue(token.token)).toBeUndefined();
      expect(await store.listTokens()).toEqual([]);
      expect(
        (await store.createToken({ label: 'a', token: 'fresh-value-0000000', createdAt: 3 })).status,
      ).toBe('created');
    });

    test('insertUsage reports duplicates by (token, event id), within one call too, and never throws for them', async () => {
      const t = await newToken('dup');
      const outcomes = await store.insertUsage([
        usage({ ingestTokenId: t.id, eventId: 'e1' }),
        usage({ ingestTokenId: t.id, eventId: 'e1' }),
        usage({ ingestTokenId: t.id, eventId: null }),
        usage({ ingestTokenId: t.id, eventId: null }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['created', 'duplicate', 'created', 'created']);
      expect(outcomes[1]?.id).toBe(outcomes[0]?.id);
      const concurrent = await Promise.all(
        [1, 2, 3].map(() => store.insertUsage([usage({ ingestTokenId: t.id, eventId: 'e2' })])),
      );
      expect(concurrent.flat().filter((o) => o.status === 'created')).toHaveLength(1);
    });

    test("insertUsage records the token's last-seen time as the latest receive time, never moving back", async () => {
      const t = await newToken('seen');
      await store.insertUsage([
        usage({ ingestTokenId: t.id, receivedAt: 5000 }),
        usage({ ingestTokenId: t.id, receivedAt: 7000 }),
      ]);
      await store.insertUsage([usage({ ingestTokenId: t.id, receivedAt: 6000 })]);
      expect((await store.findTokenByValue(t.token))?.lastSeenAt).toBe(7000);
    });

    test('listUsage pages newest first with ties broken by id, and filters by range, model and token', async () => {
      const t = await newToken('list');
      await store.insertUsage([
        usage({ ts: 100, model: 'a', ingestTokenId: t.id }),
        usage({ ts: 200, model: 'b' }),
        usage({ ts: 200, model: 'a', ingestTokenId: t.id }),
        usage({ ts: 300, model: 'a' }),
      ]);
      const first = await store.listUsage({}, { limit: 2 });
      expect(first.rows.map((r) => [r.ts, r.id])).toEqual([
        [300, 4],
        [200, 3],
      ]);
      expect(first.next).toEqual({ ts: 200, id: 3 });
      const second = await store.listUsage({}, { limit: 2, after: first.next ?? undefined });
      expect(second.rows.map((r) => r.id)).toEqual([2, 1]);
      expect(second.next).toBeNull();
      expect(
        (await store.listUsage({ startMs: 150, endMs: 250 }, { limit: 10 })).rows.map((r) => r.id),
      ).toEqual([3, 2]);
      expect(
        (await store.listUsage({ model: 'a', ingestTokenId: t.id }, { limit: 10 })).rows.map((r) => r.id),
      ).toEqual([3, 1]);
      expect((await store.listUsage({}, { limit: 10 })).rows[1]).toMatchObject({
        tokenLabel: 'list',
        ingestTokenId: t.id,
      });
    });

    test('a stored row reads back exactly as written', async () => {
      const written = usage({
        ts: 123,
        costNanoUsd: null,
        pricingStatus: 'unpriced',
        batch: true,
        serviceTier: 'flex',
        meta: '{"a":1}',
        rawUsage: '{"prompt_tokens":1}',
        user: 'customer-7',
        tags: { 'feature.name': 'chat', team: 'search' },
      });
      const [outcome] = await store.insertUsage([written]);
      const [row] = (await store.listUsage({}, { limit: 1 })).rows;
      expect(row).toEqual({ ...written, id: outcome?.id, tokenLabel: null });
    });

    test('exportUsage yields every matching row, newest first, encoded, in bounded chunks', async () => {
      await store.insertUsage(
        Array.from({ length: 4500 }, (_, i) => usage({ ts: i, model: i % 2 ? 'odd' : 'even' })),
      );
      const chunks: string[] = [];
      for await (const chunk of store.exportUsage({ model: 'odd' }, 'jsonl')) chunks.push(chunk);
      const rows = chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { timestamp: string; model: string });
      expect(rows).toHaveLength(2250);
      expect(rows.every((r) => r.model === 'odd')).toBe(true);
      expect(rows[0]?.timestamp).toBe('1970-01-01T00:00:04.499Z');
      expect(Math.max(...chunks.map((c) => c.split('\n').length - 1))).toBeLessThanOrEqual(5000);
      const csv: string[] = [];
      for await (const chunk of store.exportUsage({ model: 'even' }, 'csv')) csv.push(chunk);
      expect(csv.join('').split('\r\n')).toHaveLength(2252);
    });

    test('an export abandoned half-way releases its resources and the store keeps working', async () => {
      await store.insertUsage(Array.from({ length: 5000 }, (_, i) => usage({ ts: i })));
      for await (const chunk of store.exportUsage({}, 'csv')) {
        expect(chunk.length).toBeGreaterThan(0);
        break;
      }
      expect((await store.listUsage({}, { limit: 1 })).rows).toHaveLength(1);
    });

    test('aggregateUsage totals each interval and group, and says which rows have no group value', async () => {
      const t = await newToken('agg');
      const day = 86_400_000;
      await store.insertUsage([
        usage({ ingestTokenId: t.id, ts: 10 * day + 5, user: 'ann', tags: { team: 'a' } }),
        usage({
          ingestTokenId: t.id,
          ts: 10 * day + 7,
          user: 'bob',
          tags: { team: 'a' },
          costNanoUsd: null,
          pricingStatus: 'unpriced',
        }),
        usage({ ts: 11 * day + 3_600_000, model: 'gpt-4o', tags: { team: 'b' } }),
        usage({ ts: 12 * day, user: 'ann' }),
      ]);
      const intervals = [
        { startMs: 10 * day, endMs: 11 * day },
        { startMs: 11 * day, endMs: 12 * day + 1 },
      ];
      for (const source of ['auto', 'raw'] as const) {
        const byTeam = listCells(
          await store.aggregateUsage({
            filter: {},
            intervals,
            groupBy: { kind: 'tag', key: 'team' },
            source,
          }),
        );
        expect(
          byTeam
            .map((c) => [
              c.interval,
              c.group,
              c.totals.requests,
              c.totals.costNanoUsd,
              c.totals.unpricedRequests,
            ])
            .sort(),
        ).toEqual(
          [
            [0, 'a', 2, 450_000, 1],
            [1, 'b', 1, 450_000, 0],
            [1, null, 1, 450_000, 0],
          ].sort(),
        );
        const ann = await store.aggregateUsage({ filter: { user: 'ann' }, intervals, groupBy: null, source });
        expect(listCells(ann).map((c) => [c.interval, c.totals.requests, c.totals.totalTokens])).toEqual([
          [0, 1, 1500],
          [1, 1, 1500],
        ]);
        const byToken = await store.aggregateUsage({
          filter: {},
          intervals: intervals.slice(0, 1),
          groupBy: { kind: 'token' },
          source,
        });
        expect(listCells(byToken).map((c) => [c.group, c.totals.requests])).toEqual([[String(t.id), 2]]);
        expect(byToken.labels[String(t.id)]).toBe('agg');
      }
    });

    test('resetUsage deletes usage only; stats and models follow', async () => {
      const t = await newToken('stats');
      await store.insertUsage([
        usage({ ingestTokenId: t.id, ts: 50, model: 'z', receivedAt: 90_000 }),
        usage({ ts: 70, model: 'y' }),
      ]);
      expect(await store.listModels()).toEqual(['y', 'z']);
      expect(await store.stats(100_000)).toEqual({
        usageRows: 2,
        activeTokens: 1,
        lastUsageAt: 70,
        lastTokenSeenAt: 90_000,
        tokensSeenLastMinute: 1,
        tokensSeenLast5Minutes: 1,
        tokensSeenLastHour: 1,
      });
      expect((await store.listTokens())[0]).toMatchObject({
        usageCount: 1,
        costNanoUsd: 450_000,
        unpricedCount: 0,
      });
      expect(await store.resetUsage()).toBe(2);
      expect((await store.stats(100_000)).usageRows).toBe(0);
      expect(await store.listModels()).toEqual([]);
      expect(await store.listTokens()).toHaveLength(1);
    });

    test('sessions: found until they expire, deleted once, expired ones purged on the next create', async () => {
      await store.createSession({ idHash: 'a'.repeat(64), createdAt: 1000, expiresAt: 5000, remember: true });
      expect(await store.findSession('a'.repeat(64), 4999)).toEqual({
        idHash: 'a'.repeat(64),
        createdAt: 1000,
        expiresAt: 5000,
        remember: true,
      });
      expect(await store.findSession('a'.repeat(64), 5000)).toBeUndefined();
      expect(await store.findSession('b'.repeat(64), 2000)).toBeUndefined();
      await store.createSession({
        idHash: 'c'.repeat(64),
        createdAt: 6000,
        expiresAt: 9000,
        remember: false,
      });
      expect(await store.deleteSession('a'.repeat(64))).toBe(false);
      expect((await store.findSession('c'.repeat(64), 7000))?.remember).toBe(false);
      expect(await store.deleteSession('c'.repeat(64))).toBe(true);
      expect(await store.deleteSession('c'.repeat(64))).toBe(false);
      expect(await store.findSession('c'.repeat(64), 7000)).toBeUndefined();
    });

    test('usage-change listeners hear committed inserts (not duplicates) and resets, until unsubscribed', async () => {
      const heard: unknown[] = [];
      const unsubscribe = store.onUsageChange((change) => heard.push(change));
      store.onUsageChange(() => {
        throw new Error('a failing listener must not fail the write');
      });
      const token = await newToken('listen');
      const record = usage({ ingestTokenId: token.id, eventId: 'e1' });
      await store.insertUsage([record, usage()]);
      expect(heard).toEqual([{ kind: 'insert', rows: 2 }]);
      await store.insertUsage([record]);
      expect(heard).toHaveLength(1);
      await store.resetUsage();
      expect(heard).toEqual([
        { kind: 'insert', rows: 2 },
        { kind: 'reset', rows: 2 },
      ]);
      unsubscribe();
      await store.insertUsage([usage()]);
      expect(heard).toHaveLength(2);
    });

    test('pricing: model usage with unpriced counts, override versions, and the extended cache-write bucket', async () => {
      await store.insertUsage([
        usage({ ts: 10, cacheWriteTokens: 30, cacheWriteExtendedTokens: 20 }),
        usage({
          ts: 20,
          model: 'new-model',
          costNanoUsd: null,
          pricingStatus: 'unpriced',
          pricingSource: null,
        }),
        usage({ ts: 30, model: 'new-model', provider: 'acme', pricingStatus: 'estimated', costNanoUsd: 7 }),
      ]);
      expect(await store.listModelUsage()).toEqual([
        {
          provider: 'openai',
          model: 'gpt-4o-mini-2024-07-18',
          requests: 1,
          unpricedRequests: 0,
          estimatedRequests: 0,
          costNanoUsd: 450_000,
          lastAt: 10,
        },
        {
          provider: 'acme',
          model: 'new-model',
          requests: 1,
          unpricedRequests: 0,
          estimatedRequests: 1,
          costNanoUsd: 7,
          lastAt: 30,
        },
        {
          provider: 'openai',
          model: 'new-model',
          requests: 1,
          unpricedRequests: 1,
          estimatedRequests: 0,
          costNanoUsd: 0,
          lastAt: 20,
        },
      ]);
      const [row] = await store.scanUsageForReprice({ model: 'gpt-4o-mini-2024-07-18' }, null, 10);
      expect(row).toMatchObject({ id: 1, cacheWriteTokens: 30, cacheWriteExtendedTokens: 20, batch: false });

      expect(await store.latestPriceOverrides()).toBeUndefined();
      const first = await store.savePriceOverrides({ document: '{}', createdAt: 5, actor: 'a', note: null });
      const second = await store.savePriceOverrides({
        document: '{"openai":[]}',
        createdAt: 6,
        actor: 'b',
        note: 'n',
      });
      expect(second.version).toBeGreaterThan(first.version);
      expect(await store.latestPriceOverrides()).toEqual({
        version: second.version,
        document: '{"openai":[]}',
        createdAt: 6,
        actor: 'b',
        note: 'n',
      });
    });

    test('pricing: the reprice scan is scoped and ordered by (ts, id); applied costs are audited and reversible', async () => {
      await store.insertUsage([
        usage({ ts: 10 }),
        usage({ ts: 20 }),
        usage({ ts: 30, model: 'other' }),
        usage({ ts: 20 }),
        usage({ ts: 5 }),
      ]);
      const ids = async (...args: Parameters<Store['scanUsageForReprice']>) =>
        (await store.scanUsageForReprice(...args)).map((r) => r.id);
      expect(await ids({}, null, 10)).toEqual([5, 1, 2, 4, 3]);
      expect(await ids({ startMs: 15, endMs: 30 }, null, 10)).toEqual([2, 4, 3]);
      expect(await ids({ model: 'gpt-4o-mini-2024-07-18' }, { ts: 20, id: 2 }, 10)).toEqual([4]);
      expect(await ids({}, { ts: 10, id: 1 }, 2)).toEqual([2, 4]);
      const runId = await store.createRepriceRun({
        kind: 'reprice',
        undoOf: null,
        actor: 'cli',
        requestId: 'r1',
        startedAt: 100,
        scope: { model: 'gpt-4o-mini-2024-07-18', startMs: 0, endMs: 50 },
        priceSources: ['genai-prices@0.1.8'],
      });
      const old = { costNanoUsd: 450_000, status: 'priced' as const, source: 'builtin@1', rates: null };
      const next = {
        costNanoUsd: 500_000,
        status: 'priced' as const,
        source: 'override-db@v1',
        rates: '{"x":1}',
      };
      expect(
        await store.applyRepricedCosts(runId, [
          { usageId: 1, old, new: next },
          { usageId: 2, old: { ...old, costNanoUsd: 1 }, new: next },
        ]),
      ).toEqual({ applied: 1, skipped: 1 });
      await store.finishRepriceRun(runId, { status: 'done', finishedAt: 200, rowsScanned: 2, error: null });
      expect(await store.getRepriceRun(runId)).toEqual({
        id: runId,
        kind: 'reprice',
        undoOf: null,
        status: 'done',
        actor: 'cli',
        requestId: 'r1',
        startedAt: 100,
        finishedAt: 200,
        scope: { model: 'gpt-4o-mini-2024-07-18', startMs: 0, endMs: 50 },
        priceSources: ['genai-prices@0.1.8'],
        rowsScanned: 2,
        rowsChanged: 1,
        rowsSkipped: 1,
        oldTotalNanoUsd: 450_000,
        newTotalNanoUsd: 500_000,
        error: null,
      });
      expect(await store.listRepriceChanges(runId, 0, 10)).toEqual([{ usageId: 1, old, new: next }]);
      expect((await store.listRepriceRuns(10)).map((run) => run.id)).toEqual([runId]);
      expect(await store.getRepriceRun(runId + 1)).toBeUndefined();
      const [changed] = await store.scanUsageForReprice({ startMs: 10, endMs: 10 }, null, 1);
      expect(changed).toMatchObject({
        costNanoUsd: 500_000,
        pricingSource: 'override-db@v1',
        pricingRates: '{"x":1}',
      });
      // The audit outlives the usage row.
      await store.resetUsage();
      expect(await store.listRepriceChanges(runId, 0, 10)).toHaveLength(1);
    });

    test('close commits queued writes first, and closing twice is harmless', async () => {
      const pending = store.insertUsage([usage()]);
      await store.close();
      expect((await pending)[0]?.status).toBe('created');
      await store.close();
    });
  });
}
