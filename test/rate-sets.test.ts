import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createSqliteStore, type SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import { usage } from './usage-fixture.js';

let dir: string;
let store: SqliteStore;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-rates-'));
  store = createSqliteStore(path.join(dir, 'usage.sqlite'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const MINI = JSON.stringify({ input_mtok: 0.15, output_mtok: 0.6, source: 'genai-prices@0.1.8' });
const FOUR_O = JSON.stringify({ input_mtok: 2.5, output_mtok: 10, source: 'genai-prices@0.1.8' });

const rateSets = () =>
  store.db.prepare('SELECT rates FROM pricing_rate_sets ORDER BY id').pluck().all() as string[];
const storedRates = async () =>
  (await store.listUsage({}, { limit: 100 })).rows.map((row) => row.pricingRates).reverse();

test('rows priced from the same rates share one stored copy and read back their own rates', async () => {
  await store.insertUsage([usage({ pricingRates: MINI }), usage({ pricingRates: MINI })]);
  await store.insertUsage([usage({ pricingRates: FOUR_O }), usage({ pricingRates: null })]);
  await store.insertUsage([usage({ pricingRates: MINI })]);
  expect(rateSets()).toEqual([MINI, FOUR_O]);
  expect(await storedRates()).toEqual([MINI, MINI, FOUR_O, null, MINI]);
  const inRows = store.db
    .prepare('SELECT COUNT(*) FROM usage_log WHERE pricing_rates IS NOT NULL')
    .pluck()
    .get();
  expect(inRows).toBe(0);
});

test('rows written before migration 007 keep their rates text and still read back', async () => {
  await store.insertUsage([usage({ pricingRates: MINI })]);
  store.db.prepare('UPDATE usage_log SET pricing_rates = ?, pricing_rates_id = NULL').run(FOUR_O);
  expect(await storedRates()).toEqual([FOUR_O]);
});

test('a rate set written by a transaction that rolled back is not reused', async () => {
  const [first] = await store.insertUsage([usage({ ingestTokenId: null, eventId: null })]);
  expect(first?.status).toBe('created');
  const token = await store.createToken({ label: 't', token: 'tok_rates_0123456789', createdAt: 0 });
  if (token.status !== 'created') throw new Error('no token');
  const ingestTokenId = token.token.id;
  await store.loadUsage([usage({ ingestTokenId, eventId: 'e1' })]);
  // A load with a new rate set and a duplicate event id fails as a whole: its rate set goes too.
  await expect(
    store.loadUsage([
      usage({ ingestTokenId, eventId: 'e2', pricingRates: FOUR_O }),
      usage({ ingestTokenId, eventId: 'e1' }),
    ]),
  ).rejects.toThrow(/UNIQUE/);
  expect(rateSets()).toEqual([]);
  // The same rates again: stored afresh (a remembered id would point at nothing).
  await store.insertUsage([usage({ ingestTokenId, eventId: 'e3', pricingRates: FOUR_O })]);
  expect(rateSets()).toEqual([FOUR_O]);
  expect((await storedRates()).at(-1)).toBe(FOUR_O);
});
