/**
 * Writes a realistic usage database for the analytics benchmarks, through the real schema and the
 * real rollup code, on both cores.
 *
 *   npx tsx bench/generate.ts [--rows 10000000] [--out /tmp/cg-bench-10m.sqlite] [--end 2026-11-28]
 *
 * The data: ~50 tracking tokens (apps) of very different sizes, each using 2-5 of 20 models from
 * three providers, with a team and env tag per app, a feature tag per call, end-user ids on the
 * apps that send them (~5,000 users), 13 months of traffic that grows over time and follows the
 * hours of the day and the days of the week, ~1% unpriced calls.
 *
 * The records come from a seeded generator, so two threads can produce the same stream. The main
 * thread writes the usage rows with the store's bulk loader (positional multi-row INSERTs in 50,000-row
 * transactions, usage_log's indexes dropped during the load and rebuilt at the end). A worker thread
 * replays the stream through the same RollupDelta/RollupWriter as ingest into a side file with the
 * same migrations; its rollup tables are copied into the output once both are done. The result is
 * the file ingest would have written (bench/queries.ts checks every answer against the raw rows).
 * --keep-indexes keeps usage_log's indexes during the load instead, to compare.
 * The output file is deleted first; put it under /tmp, never in the repository.
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { removeDatabaseFiles } from '../src/storage/sqlite/backup.js';
import { createBulkLoader, suspendUsageIndexes } from '../src/storage/sqlite/bulk-load.js';
import { migrate } from '../src/storage/sqlite/migrate.js';
import { openDatabase } from '../src/storage/sqlite/open-database.js';
import { RateSetIds } from '../src/storage/sqlite/rate-sets.js';
import { ROLLUP_TABLES, RollupWriter } from '../src/storage/sqlite/rollup-writer.js';
import { createSqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import { workerEntry } from '../src/storage/sqlite/start-worker.js';
import type { NewUsage } from '../src/storage/store.js';

/** What the main thread tells the rollup worker (the worker parses no arguments of its own). */
interface RollupJob {
  args: string[];
  tokenIds: number[];
  file: string;
}

const { values } = parseArgs({
  args: isMainThread ? process.argv.slice(2) : (workerData as RollupJob).args,
  options: {
    rows: { type: 'string', default: '10000000' },
    out: { type: 'string', default: '/tmp/cg-bench-10m.sqlite' },
    end: { type: 'string', default: '2026-11-28' },
    months: { type: 'string', default: '13' },
    batch: { type: 'string', default: '50000' },
    seed: { type: 'string', default: '1' },
    'keep-indexes': { type: 'boolean', default: false },
  },
});

const TOTAL_ROWS = Number(values.rows);
const OUT = values.out;
const BATCH_ROWS = Number(values.batch);
const END_MS = Date.parse(`${values.end}T00:00:00Z`);
const START_MS = (() => {
  const end = new Date(END_MS);
  return Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - Number(values.months), end.getUTCDate());
})();

let seed = Number(values.seed) >>> 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
/** Index with probability proportional to weight. */
function weighted(cumulative: readonly number[]): number {
  const total = cumulative[cumulative.length - 1] ?? 0;
  const x = random() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] ?? 0) > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
const cumulate = (weights: readonly number[]) => {
  let sum = 0;
  return weights.map((w) => {
    sum += w;
    return sum;
  });
};

/** USD per 1M tokens: input, cached input, output. null = no known price (stored unpriced). */
const MODELS: {
  provider: string;
  model: string;
  rates: [number, number, number] | null;
  reasoning?: boolean;
}[] = [
  { provider: 'openai', model: 'gpt-4o-mini-2024-07-18', rates: [0.15, 0.075, 0.6] },
  { provider: 'openai', model: 'gpt-4o-2024-08-06', rates: [2.5, 1.25, 10] },
  { provider: 'openai', model: 'gpt-4.1-2025-04-14', rates: [2, 0.5, 8] },
  { provider: 'openai', model: 'gpt-4.1-mini-2025-04-14', rates: [0.4, 0.1, 1.6] },
  { provider: 'openai', model: 'gpt-4.1-nano-2025-04-14', rates: [0.1, 0.025, 0.4] },
  { provider: 'openai', model: 'o3-2025-04-16', rates: [2, 0.5, 8], reasoning: true },
  { provider: 'openai', model: 'o4-mini-2025-04-16', rates: [1.1, 0.275, 4.4], reasoning: true },
  { provider: 'openai', model: 'gpt-5-2025-08-07', rates: [1.25, 0.125, 10], reasoning: true },
  { provider: 'openai', model: 'gpt-5-mini-2025-08-07', rates: [0.25, 0.025, 2], reasoning: true },
  { provider: 'openai', model: 'text-embedding-3-small', rates: [0.02, 0.02, 0] },
  { provider: 'openai', model: 'text-embedding-3-large', rates: [0.13, 0.13, 0] },
  { provider: 'openai', model: 'ft:gpt-4o-mini-2024-07-18:acme::B1x2', rates: null },
  { provider: 'anthropic', model: 'claude-sonnet-4-20250514', rates: [3, 0.3, 15] },
  { provider: 'anthropic', model: 'claude-3-5-haiku-20241022', rates: [0.8, 0.08, 4] },
  { provider: 'anthropic', model: 'claude-opus-4-1-20250805', rates: [15, 1.5, 75] },
  { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', rates: [3, 0.3, 15] },
  { provider: 'google', model: 'gemini-2.5-flash', rates: [0.3, 0.075, 2.5], reasoning: true },
  { provider: 'google', model: 'gemini-2.5-pro', rates: [1.25, 0.31, 10], reasoning: true },
  { provider: 'google', model: 'gemini-2.0-flash', rates: [0.1, 0.025, 0.4] },
  { provider: 'google', model: 'gemini-2.5-flash-lite', rates: [0.1, 0.025, 0.4] },
];

const TEAMS = ['search', 'ads', 'support', 'growth', 'infra', 'data', 'mobile', 'payments'];
const FEATURES = [
  'chat',
  'summary',
  'classify',
  'extract',
  'rerank',
  'embed',
  'draft',
  'translate',
  'qa',
  'agent',
];

interface App {
  label: string;
  weight: number;
  models: number[];
  modelWeights: number[];
  team: string;
  env: string;
  features: string[];
  /** One tag object per feature, reused as a client reuses its constants. */
  tagSets: Readonly<Record<string, string>>[];
  users: string[];
}

function makeApps(): App[] {
  const names = [
    'checkout',
    'search',
    'support-bot',
    'recs',
    'mail',
    'docs',
    'billing',
    'crm',
    'chat',
    'etl',
  ];
  let userCounter = 0;
  return Array.from({ length: 50 }, (_, i) => {
    const modelCount = 2 + Math.floor(random() * 4);
    const models = new Set<number>();
    while (models.size < modelCount) models.add(Math.floor(random() * MODELS.length));
    const userCount = random() < 0.6 ? Math.floor(10 + random() ** 2 * 400) : 0;
    const users = Array.from(
      { length: userCount },
      () => `user-${(userCounter++).toString(36).padStart(4, '0')}`,
    );
    const team = pick(TEAMS);
    const env = i % 7 === 0 ? 'staging' : i % 11 === 0 ? 'dev' : 'prod';
    const features = Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(FEATURES));
    return {
      label: `${pick(names)}-${i}`,
      // Zipf-like: a few apps carry most of the traffic.
      weight: 1 / (i + 1) ** 0.9,
      models: [...models],
      modelWeights: cumulate([...models].map((_, k) => 1 / (k + 1))),
      team,
      env,
      features,
      tagSets: features.map((feature) => Object.freeze({ team, env, feature })),
      users,
    };
  });
}

/** Relative traffic by hour of day (UTC) and by weekday (Sunday first). */
const HOURLY = [3, 2, 2, 2, 3, 4, 6, 8, 10, 12, 13, 13, 12, 12, 13, 13, 12, 11, 9, 8, 7, 6, 5, 4];
const WEEKDAY = [0.55, 1, 1.05, 1.05, 1.05, 1, 0.6];

/** The tracking tokens to create, one per app; the same on both threads (it draws from the generator). */
function makeTokens(apps: readonly App[]): { label: string; token: string }[] {
  return apps.map((app) => ({
    label: app.label,
    token: `tok_${app.label.replace(/[^a-z0-9]/g, '')}${String(random()).slice(2, 14)}`,
  }));
}

/** Every record, in time order, in batches of BATCH_ROWS. */
function* records(apps: readonly App[], tokenIds: readonly number[]): Generator<NewUsage[]> {
  const appWeights = cumulate(apps.map((app) => app.weight));

  // Spread the rows over the hours: growth x2 over the period, daily and weekly cycles.
  const hours = Math.floor((END_MS - START_MS) / 3_600_000);
  const hourWeights = Array.from({ length: hours }, (_, h) => {
    const at = START_MS + h * 3_600_000;
    const date = new Date(at);
    return (1 + h / hours) * (HOURLY[date.getUTCHours()] ?? 1) * (WEEKDAY[date.getUTCDay()] ?? 1);
  });
  const weightSum = hourWeights.reduce((a, b) => a + b, 0);

  let eventCounter = 0;
  let batch: NewUsage[] = [];
  let carry = 0;
  for (let h = 0; h < hours; h += 1) {
    const exact = ((hourWeights[h] ?? 0) / weightSum) * TOTAL_ROWS + carry;
    const count = Math.floor(exact);
    carry = exact - count;
    const hourStart = START_MS + h * 3_600_000;
    const offsets = Array.from({ length: count }, () => Math.floor(random() * 3_600_000)).sort(
      (a, b) => a - b,
    );
    for (const offset of offsets) {
      const appIndex = weighted(appWeights);
      const app = apps[appIndex] as App;
      const spec =
        MODELS[app.models[weighted(app.modelWeights)] ?? 0] ?? (MODELS[0] as (typeof MODELS)[number]);
      const embedding = spec.model.startsWith('text-embedding');
      const promptTokens = Math.floor(50 + random() ** 2 * (embedding ? 2000 : 8000));
      const completionTokens = embedding ? 0 : Math.floor(10 + random() ** 2 * 1500);
      const cachedTokens = random() < 0.3 ? Math.floor(promptTokens * random() * 0.8) : 0;
      const reasoningTokens = spec.reasoning ? Math.floor(completionTokens * random() * 0.7) : 0;
      const ts = hourStart + offset;
      const cost = spec.rates
        ? Math.round(
            ((promptTokens - cachedTokens) * spec.rates[0] +
              cachedTokens * spec.rates[1] +
              completionTokens * spec.rates[2]) *
              1000,
          )
        : null;
      batch.push({
        ts,
        receivedAt: ts + 150,
        source: 'ingest',
        ingestTokenId: tokenIds[appIndex] ?? null,
        // Time-ordered like the rows, so that the unique index grows at its end.
        eventId: `chatcmpl-${(eventCounter++).toString(36).padStart(6, '0')}${String(random()).slice(2, 10)}`,
        provider: spec.provider,
        model: spec.model,
        promptTokens,
        completionTokens,
        totalTokens: promptTokens + completionTokens,
        cachedTokens,
        cacheWriteTokens: 0,
        cacheWriteExtendedTokens: 0,
        reasoningTokens,
        inputAudioTokens: 0,
        outputAudioTokens: 0,
        serviceTier: null,
        batch: false,
        completionWindow: null,
        costNanoUsd: cost,
        pricingStatus: cost === null ? 'unpriced' : 'priced',
        pricingSource: cost === null ? null : 'bench',
        pricingRates: null,
        clientCostNanoUsd: null,
        meta: null,
        rawUsage: null,
        user: app.users.length > 0 ? pick(app.users) : null,
        tags: pick(app.tagSets),
      });
      if (batch.length >= BATCH_ROWS) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/** The worker: the same records, through RollupDelta/RollupWriter, into the side file's rollup tables. */
function buildRollups(job: RollupJob): RollupResult {
  const started = performance.now();
  const apps = makeApps();
  makeTokens(apps);
  const db = openDatabase(job.file);
  try {
    migrate(db);
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -524288');
    const rollups = new RollupWriter(db);
    // One transaction per batch, as the store's bulk load does (staging 500,000 rows per flush
    // instead was slower: bigger deltas to project and collect).
    const write = db.transaction((batch: NewUsage[]) => {
      rollups.stageRows(batch);
      rollups.flush();
    });
    let rows = 0;
    for (const batch of records(apps, job.tokenIds)) {
      write(batch);
      rows += batch.length;
    }
    return { rows, seconds: (performance.now() - started) / 1000 };
  } finally {
    db.close();
  }
}

interface RollupResult {
  rows: number;
  seconds: number;
}

function startRollupWorker(job: RollupJob): Promise<RollupResult> {
  const worker = new Worker(workerEntry(new URL(import.meta.url)), {
    workerData: job,
    // Rollup deltas allocate an object per new key: a larger young generation cut the worker's GC
    // (2M rows: 27.2 s with the default, 25.5 s with this).
    resourceLimits: { maxYoungGenerationSizeMb: 192 },
  });
  return new Promise((resolve, reject) => {
    let result: RollupResult | undefined;
    worker.once('message', (message: RollupResult) => {
      result = message;
    });
    worker.once('error', reject);
    worker.once('exit', (code) =>
      result === undefined ? reject(new Error(`rollup worker exited with code ${code}`)) : resolve(result),
    );
  });
}

function main(): Promise<void> {
  removeDatabaseFiles(OUT);
  const store = createSqliteStore(OUT);
  // Generated data can be regenerated: no need to fsync every commit.
  store.db.pragma('synchronous = OFF');
  store.db.pragma('cache_size = -1048576');
  return run(store).finally(() => store.close());
}

async function run(store: ReturnType<typeof createSqliteStore>): Promise<void> {
  const started = performance.now();
  const apps = makeApps();
  const tokenIds: number[] = [];
  for (const token of makeTokens(apps)) {
    const created = await store.createToken({ ...token, createdAt: START_MS });
    if (created.status !== 'created') throw new Error(`could not create token ${token.label}`);
    tokenIds.push(created.token.id);
  }
  const rollupFile = `${OUT}.rollups`;
  removeDatabaseFiles(rollupFile);
  const rollupsDone = startRollupWorker({ args: process.argv.slice(2), tokenIds, file: rollupFile });
  // Keep a worker failure from being an unhandled rejection while the main thread is still loading.
  rollupsDone.catch(() => undefined);

  // Event ids are unique by construction: rebuilding the unique index at the end checks it.
  const restoreIndexes = values['keep-indexes']
    ? () => undefined
    : suspendUsageIndexes(store.db, { unique: true });
  const bulkLoad = createBulkLoader(store.db, new RateSetIds(store.db));
  const load = store.db.transaction((batch: NewUsage[]) => bulkLoad(batch));
  let written = 0;
  for (const batch of records(apps, tokenIds)) {
    load(batch);
    written += batch.length;
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`\r${written.toLocaleString('en-US')} rows, ${seconds.toFixed(1)} s`);
  }
  const loaded = performance.now();
  // A large page cache helps the load but makes CREATE INDEX's sort several times slower (one 10M-row
  // index: 18 s with 1 GB, 5 s with SQLite's default 2 MB; bench/README.md).
  store.db.pragma('cache_size = -2000');
  restoreIndexes();
  const indexed = performance.now();
  const rollupWorker = await rollupsDone;
  if (rollupWorker.rows !== written) {
    throw new Error(`the rollup worker saw ${rollupWorker.rows} rows, the main thread wrote ${written}`);
  }
  const waited = performance.now();
  // Same schema, empty targets: SQLite copies these tables page by page.
  store.db.prepare('ATTACH DATABASE ? AS rollups').run(rollupFile);
  store.db.transaction(() => {
    for (const table of Object.values(ROLLUP_TABLES)) {
      store.db.exec(`INSERT INTO main.${table} SELECT * FROM rollups.${table}`);
    }
  })();
  store.db.exec('DETACH DATABASE rollups');
  removeDatabaseFiles(rollupFile);
  const copied = performance.now();
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const phase = (from: number, to: number) => `${((to - from) / 1000).toFixed(1)} s`;
  const rollupRows = (['quarterHour', 'hour', 'day', 'month'] as const).map(
    (unit) =>
      `${unit} ${(store.db.prepare(`SELECT COUNT(*) AS n FROM ${ROLLUP_TABLES[unit]}`).get() as { n: number }).n.toLocaleString('en-US')}`,
  );
  process.stdout.write(
    `\n${written.toLocaleString('en-US')} rows in ${seconds.toFixed(1)} s ` +
      `= ${Math.round(written / seconds).toLocaleString('en-US')} rows/s (process CPU ${cpuSeconds.toFixed(1)} s, both threads); ` +
      `rows ${phase(started, loaded)}, indexes ${phase(loaded, indexed)}, waiting for the rollup worker ${phase(indexed, waited)} ` +
      `(its run ${rollupWorker.seconds.toFixed(1)} s), rollup copy ${phase(waited, copied)}; ` +
      `${(statSync(OUT).size / 1e9).toFixed(2)} GB; ` +
      `rollup rows: ${rollupRows.join(', ')}\n`,
  );
}

function fail(error: unknown): never {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}

if (isMainThread) main().catch(fail);
else parentPort?.postMessage(buildRollups(workerData as RollupJob));
