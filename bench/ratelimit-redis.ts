/**
 * What the Redis rate-limit store adds to ingest: the built service (dist/main.js) on a fresh SQLite
 * file, loaded with durable POST /ingest (autocannon, 100 connections, unique event ids), in
 * alternating rounds with in-process buckets and with REDIS_URL (every record is one Lua call on
 * Redis). Limits are set high enough that nothing is refused: the figure is the cost of asking.
 * Prints each round's req/s, p50, p99 and server CPU per request, then the medians.
 *
 *   npm run build && npx tsx bench/ratelimit-redis.ts [--rounds 5] [--duration 10] [--redis redis://127.0.0.1:6379]
 *
 * Linux only (/proc). The Redis server runs on the same two cores, as a worst case for CPU.
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { cpuMicros, ingestLoad, startBenchService } from './lib/service.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '10' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});
const rounds = Number(values.rounds);
const durationSeconds = Number(values.duration);
const root = fileURLToPath(new URL('..', import.meta.url));
const PREFIX = `cgbench:${process.pid}:`;

interface Round {
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number;
  non2xx: number;
}

async function runRound(withRedis: boolean, round: number): Promise<Round> {
  const service = await startBenchService({
    root,
    port: 5910 + (withRedis ? 1 : 0),
    env: withRedis ? { REDIS_URL: values.redis, REDIS_KEY_PREFIX: PREFIX } : {},
  });
  try {
    await ingestLoad(service, 2, `warm-${round}`);
    const before = cpuMicros(service.pid);
    const result = await ingestLoad(service, durationSeconds, `run-${round}`);
    return {
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      cpuUs: (cpuMicros(service.pid) - before) / result.requests.total,
      non2xx: result.non2xx,
    };
  } finally {
    await service.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
const show = (label: string, r: Round) =>
  console.log(
    `${label.padEnd(16)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${String(r.p50).padStart(3)} ms   p99 ${String(r.p99).padStart(3)} ms   ${r.cpuUs.toFixed(1).padStart(6)} us CPU/request   non-2xx ${r.non2xx}`,
  );

console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; ${rounds} rounds of ${durationSeconds} s each way`,
);
const memory: Round[] = [];
const redis: Round[] = [];
try {
  for (let round = 1; round <= rounds; round += 1) {
    // Alternate which goes first, so a drift in the machine's speed falls on both.
    const order = round % 2 === 1 ? [false, true] : [true, false];
    for (const withRedis of order) {
      const result = await runRound(withRedis, round);
      (withRedis ? redis : memory).push(result);
      show(`${withRedis ? 'redis' : 'memory'} (round ${round})`, result);
    }
  }
} finally {
  const client = new Redis(values.redis, { lazyConnect: true });
  await client.connect();
  const keys = await client.keys(`${PREFIX}*`);
  if (keys.length > 0) await client.del(...keys);
  client.disconnect();
}
const pick = (rs: Round[], f: (r: Round) => number) => median(rs.map(f));
console.log(
  `\nmedians: memory ${pick(memory, (r) => r.rps).toFixed(0)} req/s, p99 ${pick(memory, (r) => r.p99)} ms, ${pick(memory, (r) => r.cpuUs).toFixed(1)} us/request; redis ${pick(redis, (r) => r.rps).toFixed(0)} req/s, p99 ${pick(redis, (r) => r.p99)} ms, ${pick(redis, (r) => r.cpuUs).toFixed(1)} us/request`,
);
const p99Ratio = pick(redis, (r) => r.p99) / pick(memory, (r) => r.p99);
console.log(`redis p99 / memory p99: ${p99Ratio.toFixed(2)} (target <= 1.10)`);
