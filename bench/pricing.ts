/**
 * Pricing benchmark: what pricing one usage record costs, in microseconds.
 *
 *   npx tsx bench/pricing.ts                 # 200k records per case, 5 rounds
 *   npx tsx bench/pricing.ts --records 50000 --rounds 3
 *
 * Cases, each on the same realistic mix of records (30 models across OpenAI, Anthropic and
 * Google, spread over 90 days, with cached tokens, reasoning, batch and priority calls):
 *   engine (warm)     PricingEngine.price, resolved prices cached per (provider, model, day, tier)
 *   engine (cold)     a new engine per 1,000 records: the cache-miss path included
 *   calcPrice         @pydantic/genai-prices' calcPrice per record, i.e. no cache (for comparison)
 * A record's pricing also includes writing its provenance JSON, as ingest does.
 *
 * Then the whole ingest path in-process (app.inject: routing, validation, normalising, pricing,
 * group commit to a real SQLite file with synchronous=FULL), in CPU microseconds per record, with
 * the engine against a stub pricer that returns a constant (what pricing cost before it priced
 * anything). CPU time, not wall time, so that a busy machine disturbs the comparison less.
 *
 * Last, a reprice of --reprice-rows stored rows (default 200k, 5 models, one of them unknown until
 * an override prices it): dry run and applied run, wall time, and the event loop's delay during it
 * (what an ingest request arriving meanwhile waits; on a busy machine the max is mostly scheduling).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { calcPrice } from '@pydantic/genai-prices';
import { buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { createManualClock } from '../src/lib/clock.js';
import { createPricingEngine } from '../src/pricing/pricing-engine.js';
import type { PriceQuery, Pricer } from '../src/pricing/types.js';
import { createPriceBook } from '../src/repricing/price-book.js';
import { createRepriceService, REPRICE_CHUNK_ROWS } from '../src/repricing/reprice-service.js';
import { createSqliteStore } from '../src/storage/sqlite/sqlite-store.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const RECORDS = option('records', 200_000);
const ROUNDS = option('rounds', 5);

const MODELS: [string, string][] = [
  ['openai', 'gpt-4o-mini-2024-07-18'],
  ['openai', 'gpt-4o-mini'],
  ['openai', 'gpt-4o-2024-08-06'],
  ['openai', 'gpt-4o'],
  ['openai', 'gpt-4.1'],
  ['openai', 'gpt-4.1-mini'],
  ['openai', 'gpt-4.1-nano'],
  ['openai', 'o3'],
  ['openai', 'o4-mini'],
  ['openai', 'gpt-5'],
  ['openai', 'gpt-5-mini'],
  ['openai', 'gpt-5-nano'],
  ['openai', 'gpt-5.1'],
  ['openai', 'gpt-5.2'],
  ['openai', 'gpt-5.4'],
  ['openai', 'gpt-5.5'],
  ['openai', 'gpt-5.6-sol'],
  ['openai', 'gpt-6-sol'],
  ['openai', 'gpt-6.2-sol'],
  ['openai', 'text-embedding-3-small'],
  ['openai', 'openai/gpt-4o-mini'],
  ['openai', 'ft:gpt-4o-mini-2024-07-18:acme::x1'],
  ['anthropic', 'claude-sonnet-4-5-20250929'],
  ['anthropic', 'claude-haiku-4-5'],
  ['anthropic', 'claude-opus-4-5'],
  ['google', 'gemini-2.5-flash'],
  ['google', 'gemini-2.5-pro'],
  ['google', 'gemini-3.1-pro-preview'],
  ['openai', 'gpt-7-preview'],
  ['openai', 'my-finetune'],
];
const DAY = 86_400_000;
const START = Date.UTC(2026, 7, 1);

function makeQueries(count: number): PriceQuery[] {
  const queries: PriceQuery[] = [];
  for (let i = 0; i < count; i += 1) {
    const [provider, model] = MODELS[(i * 7) % MODELS.length] as [string, string];
    const prompt = 500 + ((i * 37) % 4000);
    const completion = model.startsWith('text-embedding') ? 0 : 50 + ((i * 13) % 1500);
    const cached = i % 3 === 0 ? Math.floor(prompt / 2) : 0;
    queries.push({
      provider,
      model,
      atMs: START + ((i * 1_234_567) % (90 * DAY)),
      usage: {
        promptTokens: prompt,
        completionTokens: completion,
        totalTokens: prompt + completion,
        cachedTokens: cached,
        cacheWriteTokens: provider === 'anthropic' && i % 5 === 0 ? 100 : 0,
        cacheWriteExtendedTokens: 0,
        reasoningTokens: Math.floor(completion / 3),
        inputAudioTokens: 0,
        outputAudioTokens: 0,
      },
      serviceTier: i % 10 === 0 ? 'priority' : i % 10 === 1 ? 'flex' : null,
      batch: i % 10 === 2,
      completionWindow: null,
    });
  }
  return queries;
}

function time(label: string, run: () => number): number[] {
  const perRecord: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = performance.now();
    const records = run();
    perRecord.push(((performance.now() - started) * 1000) / records);
  }
  const sorted = [...perRecord].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  console.log(
    `${label.padEnd(46)} median ${median.toFixed(2).padStart(6)} us/record   (rounds: ${perRecord.map((v) => v.toFixed(2)).join(', ')})`,
  );
  return perRecord;
}

const queries = makeQueries(RECORDS);
console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
);
console.log(`${RECORDS.toLocaleString('en')} records per round, ${ROUNDS} rounds\n`);

let sink = 0;
const warm = createPricingEngine();
for (const query of queries) sink += warm.price(query).costNanoUsd ?? 0;

time('engine, warm cache (cost + provenance JSON)', () => {
  for (const query of queries) {
    const result = warm.price(query);
    sink += (result.costNanoUsd ?? 0) + (result.ratesJson?.length ?? 0);
  }
  return queries.length;
});

time('engine, warm cache (cost only)', () => {
  for (const query of queries) sink += warm.price(query).costNanoUsd ?? 0;
  return queries.length;
});

time('engine, new engine every 1,000 records (misses)', () => {
  let engine = createPricingEngine();
  for (let i = 0; i < queries.length; i += 1) {
    if (i % 1000 === 0) engine = createPricingEngine();
    sink += engine.price(queries[i] as PriceQuery).costNanoUsd ?? 0;
  }
  return queries.length;
});

const sample = queries.slice(0, Math.min(queries.length, 50_000));
time('genai-prices calcPrice per record (no cache)', () => {
  for (const query of sample) {
    const u = query.usage;
    const result = calcPrice(
      {
        input_tokens: u.promptTokens,
        cache_read_tokens: u.cachedTokens,
        cache_write_tokens: u.cacheWriteTokens,
        output_tokens: u.completionTokens,
      },
      query.model.replace(/^openai\//, ''),
      { providerId: query.provider, timestamp: new Date(query.atMs) },
    );
    sink += result ? result.total_price : 0;
  }
  return sample.length;
});

/** CPU microseconds per ingested record through the app, with the given pricer (undefined: the engine). */
async function ingestCpu(pricer: Pricer | undefined, records: number, stamped: boolean): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-pricing-'));
  const config = testConfig({
    DB_PATH: path.join(dir, 'usage.sqlite'),
    API_KEY: 'bench-admin-key-0123456789',
    INGEST_KEY: 'bench-ingest-key-0123456789',
    RATE_LIMIT_RPM: '100000000',
    INGEST_RPM: '100000000',
  });
  const store = createSqliteStore(config.dbPath);
  const app = await buildApp({ config, store, ...(pricer ? { pricer } : {}) });
  try {
    const created = await app.inject({
      method: 'POST',
      url: '/ingest/tokens',
      headers: { 'x-api-key': 'bench-admin-key-0123456789' },
      payload: { label: 'bench' },
    });
    const token = created.json().token as string;
    const send = (i: number) => {
      const query = queries[i % queries.length] as PriceQuery;
      return app.inject({
        method: 'POST',
        url: '/ingest',
        headers: { 'x-ingest-key': 'bench-ingest-key-0123456789' },
        payload: {
          tracking_token: token,
          event_id: `evt-${i}`,
          provider: query.provider,
          model: query.model,
          ...(stamped ? { timestamp: new Date(query.atMs).toISOString() } : {}),
          prompt_tokens: query.usage.promptTokens,
          completion_tokens: query.usage.completionTokens,
          cached_tokens: query.usage.cachedTokens,
          ...(query.serviceTier ? { service_tier: query.serviceTier } : {}),
          batch: query.batch,
        },
      });
    };
    for (let i = 0; i < 2000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => send(i + j)));
    const before = process.cpuUsage();
    for (let i = 0; i < records; i += 100) {
      const responses = await Promise.all(Array.from({ length: 100 }, (_, j) => send(10_000_000 + i + j)));
      const failed = responses.find((r) => r.statusCode !== 201);
      if (failed) throw new Error(failed.body);
    }
    const used = process.cpuUsage(before);
    return (used.user + used.system) / records;
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const stub: Pricer = {
  price: () => ({
    costNanoUsd: 450_000,
    status: 'priced',
    source: 'stub',
    rates: null,
    ratesJson: null,
    tier: 'standard',
    reason: null,
  }),
};
const INGEST_RECORDS = option('ingest-records', 20_000);
console.log(
  `\ningest through the app (app.inject, 100 in flight, real SQLite), ${INGEST_RECORDS.toLocaleString('en')} records per round:`,
);
const cases = {
  live: { stub: [] as number[], engine: [] as number[] },
  backfill: { stub: [] as number[], engine: [] as number[] },
};
for (let round = 0; round < ROUNDS; round += 1) {
  for (const [name, results] of Object.entries(cases)) {
    results.stub.push(await ingestCpu(stub, INGEST_RECORDS, name === 'backfill'));
    results.engine.push(await ingestCpu(undefined, INGEST_RECORDS, name === 'backfill'));
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const show = (label: string, values: number[]) =>
  console.log(
    `${label.padEnd(46)} median ${median(values).toFixed(1).padStart(6)} us CPU/record   (rounds: ${values.map((v) => v.toFixed(1)).join(', ')})`,
  );
for (const [name, results] of Object.entries(cases)) {
  const when = name === 'live' ? 'calls stamped at receive time' : 'calls spread over 90 days';
  console.log(`${name} (${when}):`);
  show('  stub pricer (a constant)', results.stub);
  show('  pricing engine', results.engine);
  console.log(`  engine / stub: ${((median(results.engine) / median(results.stub)) * 100).toFixed(1)}%`);
}

async function repriceRun(rows: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-reprice-'));
  const store = createSqliteStore(path.join(dir, 'usage.sqlite'));
  // The store's read worker is unref'd (a server keeps the process alive); a script must itself.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const models = ['gpt-4o-mini', 'gpt-4o', 'o3', 'claude-haiku-4-5', 'gpt-7-preview'];
    const insert = store.db.prepare(`INSERT INTO usage_log (ts, received_at, source, provider, model,
        prompt_tokens, completion_tokens, total_tokens, cached_tokens, cost_nanousd, pricing_status)
      VALUES (?, ?, 'ingest', ?, ?, ?, ?, ?, ?, NULL, 'unpriced')`);
    store.db.transaction(() => {
      for (let i = 0; i < rows; i += 1) {
        const model = models[i % models.length] as string;
        const prompt = 1000 + (i % 777);
        insert.run(
          START + i * 10_000,
          START + i * 10_000,
          model.startsWith('claude') ? 'anthropic' : 'openai',
          model,
          prompt,
          200,
          prompt + 200,
          i % 3 === 0 ? 500 : 0,
        );
      }
    })();
    const clock = createManualClock(Date.UTC(2026, 10, 28));
    const prices = await createPriceBook({ store, clock });
    await prices.putOverrides(
      { openai: [{ id: 'gpt-7-preview', prices: { input_mtok: 3, output_mtok: 12 } }] },
      { actor: 'bench', note: null },
    );
    const service = createRepriceService({ store, prices, clock, chunkRows: REPRICE_CHUNK });
    for (const dryRun of [true, false]) {
      const stalls = monitorEventLoopDelay({ resolution: 1 });
      stalls.enable();
      const started = performance.now();
      const result = await service.reprice({ dryRun, actor: 'bench' });
      const seconds = (performance.now() - started) / 1000;
      stalls.disable();
      console.log(
        `  ${dryRun ? 'dry run' : 'applied'}: ${result.rows.toLocaleString('en')} rows, ${result.changed.toLocaleString('en')} changed, ${seconds.toFixed(2)} s (${((seconds * 1e6) / result.rows).toFixed(1)} us/row), event-loop delay p99 ${(stalls.percentile(99) / 1e6).toFixed(0)} ms, max ${(stalls.max / 1e6).toFixed(0)} ms`,
      );
    }
  } finally {
    clearInterval(keepAlive);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const REPRICE_ROWS = option('reprice-rows', 200_000);
const REPRICE_CHUNK = option('reprice-chunk', REPRICE_CHUNK_ROWS);
console.log(
  `\nreprice of ${REPRICE_ROWS.toLocaleString('en')} stored rows (${REPRICE_CHUNK.toLocaleString('en')} per chunk):`,
);
await repriceRun(REPRICE_ROWS);

if (sink === 42) console.log('');
