/**
 * Median latency of every analytics endpoint over a generated database (bench/generate.ts), side
 * by side with the same question answered from the raw usage rows, in one run.
 *
 *   npx tsx bench/queries.ts [--db /tmp/cg-bench-10m.sqlite] [--now 2026-11-28T00:00:00Z]
 *                            [--runs 15] [--raw-runs 1] [--only <substring>]
 *
 * "rollups" is GET /usage/... through the real app (Fastify inject, the read worker, the rollup
 * tables). "raw" is the same question through the same analytics service and read worker with
 * source=raw: usage_log only, as a system without rollups would have to answer it.
 */
import { parseArgs } from 'node:util';
import { createUsageAnalytics } from '../src/analytics/usage-analytics.js';
import { buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { createManualClock } from '../src/lib/clock.js';
import { type CalendarUnit, Zone } from '../src/lib/zoned-time.js';
import { createSqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import type { UsageFilter } from '../src/storage/store.js';
import type { UsageGroupBy } from '../src/storage/usage-aggregate.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: '/tmp/cg-bench-10m.sqlite' },
    now: { type: 'string', default: '2026-11-28T00:00:00Z' },
    runs: { type: 'string', default: '15' },
    'raw-runs': { type: 'string', default: '1' },
    only: { type: 'string' },
  },
});

const NOW = Date.parse(values.now);
const RUNS = Number(values.runs);
const RAW_RUNS = Number(values['raw-runs']);
const DAY = 86_400_000;

interface Question {
  name: string;
  url: string;
  raw: () => Promise<unknown>;
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const store = createSqliteStore(values.db);
  const clock = createManualClock(NOW);
  const app = await buildApp({
    config: testConfig({
      API_KEY: 'bench-admin-key-0123456789',
      DB_PATH: values.db,
      RATE_LIMIT_RPM: '1000000000',
    }),
    store,
    clock,
  });
  await app.ready();
  const analytics = createUsageAnalytics({ store, clock });
  const tokens = (await store.listTokens()).sort((a, b) => b.usageCount - a.usageCount);
  const bigToken = tokens[0]?.id ?? 1;

  // Two ranges: the dashboard default (the last 30 days ending now, so its edges fall mid-hour)
  // and 13 whole months.
  const thirteenStart = new Date(NOW);
  thirteenStart.setUTCMonth(thirteenStart.getUTCMonth() - 13);
  const ranges = [
    { label: '30d', query: '', range: { startMs: NOW - 30 * DAY, endMs: NOW } },
    {
      label: '13mo',
      query: `start=${thirteenStart.toISOString().slice(0, 10)}&end=${new Date(NOW - DAY).toISOString().slice(0, 10)}`,
      range: { startMs: Date.parse(thirteenStart.toISOString().slice(0, 10)), endMs: NOW },
    },
  ];

  const questions: Question[] = [];
  for (const { label, query, range } of ranges) {
    const q = (params: string) => [query, params].filter(Boolean).join('&');
    const summary = (name: string, params: string, filter: UsageFilter) =>
      questions.push({
        name: `${label} summary ${name}`,
        url: `/usage/summary?${q(params)}`,
        raw: () => analytics.summary({ filter, range, source: 'raw' }),
      });
    const series = (
      name: string,
      params: string,
      unit: CalendarUnit,
      groupBy: UsageGroupBy | null,
      tz = 'UTC',
    ) =>
      questions.push({
        name: `${label} timeseries ${name}`,
        url: `/usage/timeseries?${q(params)}`,
        raw: () =>
          analytics.timeseries({
            filter: {},
            range,
            zone: new Zone(tz),
            unit,
            groupBy,
            seriesLimit: 10,
            source: 'raw',
          }),
      });
    const top = (name: string, params: string, by: UsageGroupBy) =>
      questions.push({
        name: `${label} top ${name}`,
        url: `/usage/top?${q(params)}`,
        raw: () => analytics.top({ filter: {}, range, by, limit: 10, source: 'raw' }),
      });

    summary('all', '', {});
    summary('one token', `ingest_token_id=${bigToken}`, { ingestTokenId: bigToken });
    summary('tag team:search', 'tag=team:search', { tags: [{ key: 'team', value: 'search' }] });
    series('day', 'bucket=day', 'day', null);
    series('day by model', 'bucket=day&group_by=model', 'day', { kind: 'model' });
    series('day by token', 'bucket=day&group_by=token', 'day', { kind: 'token' });
    series('day by tag:feature', 'bucket=day&group_by=tag:feature', 'day', { kind: 'tag', key: 'feature' });
    series('week by provider', 'bucket=week&group_by=provider', 'week', { kind: 'provider' });
    series(
      'day by model, New York',
      'bucket=day&group_by=model&tz=America/New_York',
      'day',
      { kind: 'model' },
      'America/New_York',
    );
    series('day, Kolkata', 'bucket=day&tz=Asia/Kolkata', 'day', null, 'Asia/Kolkata');
    if (label === '30d') series('hour', 'bucket=hour', 'hour', null);
    top('tokens', 'by=token', { kind: 'token' });
    top('models', 'by=model', { kind: 'model' });
    top('users', 'by=user', { kind: 'user' });
    top('tag:team', 'by=tag:team', { kind: 'tag', key: 'team' });
  }

  const selected = questions.filter((question) => !values.only || question.name.includes(values.only));
  process.stdout.write(
    `${'question'.padEnd(42)} ${'rollups ms'.padStart(11)} ${'(min-max)'.padEnd(14)} ${'raw ms'.padStart(9)}  speed-up\n`,
  );
  for (const question of selected) {
    const times: number[] = [];
    let source = '';
    for (let run = 0; run < RUNS + 2; run += 1) {
      const started = performance.now();
      const response = await app.inject({
        method: 'GET',
        url: question.url,
        headers: { 'x-api-key': 'bench-admin-key-0123456789' },
      });
      const elapsed = performance.now() - started;
      if (response.statusCode !== 200)
        throw new Error(`${question.url}: ${response.statusCode} ${response.body}`);
      source = response.json().source;
      if (run >= 2) times.push(elapsed);
    }
    const rawTimes: number[] = [];
    for (let run = 0; run < RAW_RUNS; run += 1) {
      const started = performance.now();
      await question.raw();
      rawTimes.push(performance.now() - started);
    }
    const fast = median(times);
    const slow = median(rawTimes);
    const spread = `(${Math.min(...times).toFixed(1)}-${Math.max(...times).toFixed(1)})`;
    process.stdout.write(
      `${question.name.padEnd(42)} ${fast.toFixed(1).padStart(11)} ${spread.padEnd(14)} ${slow.toFixed(0).padStart(9)}  ${(slow / fast).toFixed(0)}x${source === 'rollups' ? '' : ` [${source}]`}\n`,
    );
  }
  await app.close();
  await store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
