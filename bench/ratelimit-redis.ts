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
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

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
const API_KEY = 'bench-admin-key-0123456789';
const INGEST_KEY = 'bench-ingest-key-0123456789';
const PREFIX = `cgbench:${process.pid}:`;

function cpuMicros(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100;
}

interface Round {
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number;
  non2xx: number;
}

async function runRound(withRedis: boolean, round: number): Promise<Round> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-rl-'));
  const port = String(5910 + (withRedis ? 1 : 0));
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['dist/main.js'], {
    cwd: root,
    env: {
      ...process.env,
      ENV: 'production',
      API_KEY,
      INGEST_KEY,
      HOST: '127.0.0.1',
      SERVER_PORT: port,
      DB_PATH: path.join(dir, 'usage.sqlite'),
      RATE_LIMIT_RPM: '100000000',
      INGEST_RPM: '100000000',
      LOG_LEVEL: 'warn',
      ...(withRedis ? { REDIS_URL: values.redis, REDIS_KEY_PREFIX: PREFIX } : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const up = await fetch(`${base}/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const created = await fetch(`${base}/ingest/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ label: 'bench' }),
    });
    const { token } = (await created.json()) as { token: string };
    let counter = 0;
    const load = (seconds: number) =>
      new Promise<autocannon.Result>((resolve, reject) => {
        autocannon(
          {
            url: `${base}/ingest`,
            connections: 100,
            duration: seconds,
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-ingest-key': INGEST_KEY },
            requests: [
              {
                setupRequest: (request) => {
                  counter += 1;
                  return {
                    ...request,
                    body: JSON.stringify({
                      tracking_token: token,
                      event_id: `chatcmpl-${round}-${counter}`,
                      model: 'gpt-4o-mini-2024-07-18',
                      prompt_tokens: 1200 + (counter % 500),
                      completion_tokens: 300 + (counter % 200),
                    }),
                  };
                },
              },
            ],
          },
          (error, result) => (error ? reject(error) : resolve(result)),
        );
      });
    await load(2);
    const pid = server.pid as number;
    const before = cpuMicros(pid);
    const result = await load(durationSeconds);
    return {
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      cpuUs: (cpuMicros(pid) - before) / result.requests.total,
      non2xx: result.non2xx,
    };
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
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
