/**
 * Server CPU per ingested record: starts a built service (dist/main.js) on a fresh SQLite file,
 * loads POST /ingest with autocannon (100 connections), and reads the server process's own CPU
 * time from /proc around the run. CPU per request moves much less than requests per second when
 * other work shares the machine, so it is the figure to compare two builds with.
 *
 *   npm run build && npx tsx bench/ingest-cpu.ts                  # this checkout
 *   npx tsx bench/ingest-cpu.ts /path/to/other/checkout           # another build (run its `npm run build`)
 *   npx tsx bench/ingest-cpu.ts --duration 20
 *
 * Linux only (/proc).
 */
import { fileURLToPath } from 'node:url';
import { cpuMicros, ingestLoad, startBenchService } from './lib/service.js';

const args = process.argv.slice(2);
const durationIndex = args.indexOf('--duration');
const durationSeconds = durationIndex >= 0 ? Number(args[durationIndex + 1]) : 10;
const root =
  args.find((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--duration') ??
  fileURLToPath(new URL('..', import.meta.url));

const service = await startBenchService({ root, port: 5903 });
try {
  await ingestLoad(service, 3, 'warm');
  const before = cpuMicros(service.pid);
  const result = await ingestLoad(service, durationSeconds, 'run');
  const used = cpuMicros(service.pid) - before;
  console.log(
    `${root}: ${result.requests.average.toFixed(0)} req/s, server CPU ${(used / result.requests.total).toFixed(1)} us/request, non-2xx ${result.non2xx}`,
  );
} finally {
  await service.stop();
}
