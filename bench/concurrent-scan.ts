/**
 * Do the reads behind a long raw-row analytics question wait for it? Asks one question the rollups
 * cannot answer (a user and a tag together, 13 months) over the 10M-row file, and while it runs,
 * asks a rollup-answered question and a /data page every 100 ms and prints their latencies.
 *
 *   npx tsx bench/concurrent-scan.ts [--db /tmp/cg-bench-10m.sqlite]
 */
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { createManualClock } from '../src/lib/clock.js';
import { createSqliteStore } from '../src/storage/sqlite/sqlite-store.js';

const { values } = parseArgs({
  options: { db: { type: 'string', default: '/tmp/cg-bench-10m.sqlite' } },
});
const API_KEY = 'bench-admin-key-0123456789';

const store = createSqliteStore(values.db);
const app = await buildApp({
  config: testConfig({ API_KEY, DB_PATH: values.db, RATE_LIMIT_RPM: '1000000000' }),
  store,
  clock: createManualClock(Date.UTC(2026, 10, 28)),
});
await app.ready();
const timed = async (url: string) => {
  const started = performance.now();
  const response = await app.inject({ method: 'GET', url, headers: { 'x-api-key': API_KEY } });
  return { status: response.statusCode, ms: performance.now() - started, body: response.json() };
};
const user = (await store.listModels()).length > 0 ? 'user-0001' : 'nobody';
const range = 'start=2025-10-28&end=2026-11-27';
// Warm both workers first.
await timed(`/usage/summary?${range}`);
await timed(`/usage/summary?start=2026-11-27&end=2026-11-27&user=${user}&tag=team:search`);

const scan = timed(`/usage/summary?${range}&user=${user}&tag=team:search`);
let done = false;
void scan.finally(() => {
  done = true;
});
const during: { rollups: number[]; data: number[] } = { rollups: [], data: [] };
while (!done) {
  during.rollups.push((await timed(`/usage/timeseries?${range}&group_by=model`)).ms);
  during.data.push((await timed('/data?limit=100')).ms);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const answer = await scan;
const max = (xs: number[]) => Math.max(...xs).toFixed(1);
const median = (xs: number[]) => ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0).toFixed(1);
console.log(
  `raw scan (user ${user} + tag team:search, 13 months): ${answer.status}, ${(answer.ms / 1000).toFixed(1)} s, source ${answer.body.source}`,
);
console.log(
  `meanwhile, ${during.rollups.length} rounds: 13-month daily series by model median ${median(during.rollups)} ms (max ${max(during.rollups)}); /data page median ${median(during.data)} ms (max ${max(during.data)})`,
);
await app.close();
await store.close();
