/**
 * What rollup maintenance costs ingest: the same POST /ingest load against a build without rollups
 * (a baseline commit) and against this checkout, alternating, reporting requests
 * per second and the server's own CPU per request (read from /proc; it moves much less than req/s
 * when other work shares the machine).
 *
 *   npx tsx bench/ingest-rollups.ts [--baseline <ref>] [--seconds 10] [--rounds 3] [--load plain|attributed|both]
 *
 * The default baseline, a7fdca2, is main as it was just before the analytics branch was merged
 * (pricing engine, ops, everything but rollups): the newest code without them.
 *
 * Loads (100 connections, one record per request, unique event ids):
 * - plain: the original client's record (one token, one model, no tags, no user).
 * - attributed: 50 tokens, 12 models, three tags (team, env, feature) on every record and an end
 *   user on 80% of them: the most rollup rows a record can touch in practice.
 *
 * Both trees are built (npm run build) and run as `node dist/main.js`. Linux only (/proc).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string', default: 'a7fdca2' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    load: { type: 'string', default: 'both' },
    port: { type: 'string', default: '5071' },
  },
});

const ROOT = path.resolve(import.meta.dirname, '..');
const ADMIN_KEY = 'bench-admin-key-0123456789';
const INGEST_KEY = 'bench-ingest-key-0123456789';
const PORT = Number(values.port);
const TICKS_PER_SECOND = 100;
const MODELS = [
  'gpt-4o-mini-2024-07-18',
  'gpt-4o-2024-08-06',
  'gpt-4.1-2025-04-14',
  'gpt-4.1-mini-2025-04-14',
  'gpt-4.1-nano-2025-04-14',
  'o3-2025-04-16',
  'o4-mini-2025-04-16',
  'gpt-5-2025-08-07',
  'gpt-5-mini-2025-08-07',
  'text-embedding-3-small',
  'ft:gpt-4o-mini:acme::x1',
  'gpt-4o-mini',
];
const TEAMS = ['search', 'ads', 'support', 'growth', 'infra'];
const FEATURES = ['chat', 'summary', 'classify', 'extract', 'rerank', 'draft'];

type Load = 'plain' | 'attributed';

function cpuMicros(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
}

/** A built copy of `ref` under /tmp that shares this checkout's node_modules. */
function baselineTree(ref: string): string {
  const sha = execFileSync('git', ['rev-parse', ref], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = path.join(tmpdir(), `cg-analytics-bench-baseline-${sha.slice(0, 12)}`);
  if (!existsSync(path.join(dir, 'dist', 'main.js'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${sha} | tar -x -C ${dir}`], { cwd: ROOT });
    if (!existsSync(path.join(dir, 'node_modules'))) {
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    }
    execFileSync('npm', ['run', 'build'], { cwd: dir, stdio: 'ignore' });
  }
  return dir;
}

async function startServer(tree: string, dbDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: tree,
    env: {
      ...process.env,
      ENV: 'production',
      DB_PATH: path.join(dbDir, 'usage.sqlite'),
      API_KEY: ADMIN_KEY,
      INGEST_KEY,
      SERVER_PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_RPM: '100000000',
      INGEST_RPM: '100000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const up = await fetch(`http://127.0.0.1:${PORT}/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return child;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server in ${tree} did not start`);
}

async function createTokens(count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const response = await fetch(`http://127.0.0.1:${PORT}/ingest/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
      body: JSON.stringify({ label: `app-${i}` }),
    });
    tokens.push(((await response.json()) as { token: string }).token);
  }
  return tokens;
}

function body(load: Load, n: number, tokens: string[]): string {
  if (load === 'plain') {
    return JSON.stringify({
      tracking_token: tokens[0],
      event_id: `chatcmpl-${n}`,
      model: 'gpt-4o-mini-2024-07-18',
      prompt_tokens: 1200 + (n % 500),
      completion_tokens: 300 + (n % 200),
    });
  }
  const record: Record<string, unknown> = {
    tracking_token: tokens[(n * 7) % tokens.length],
    event_id: `chatcmpl-${n}`,
    model: MODELS[(n * 13) % MODELS.length],
    prompt_tokens: 200 + (n % 3000),
    completion_tokens: 50 + (n % 700),
    tags: { team: TEAMS[n % TEAMS.length], env: n % 9 === 0 ? 'staging' : 'prod', feature: FEATURES[n % 6] },
  };
  if (n % 5 !== 0) record.user = `user-${n % 2000}`;
  return JSON.stringify(record);
}

async function measure(tree: string, load: Load, seconds: number): Promise<{ rps: number; cpuUs: number }> {
  const dbDir = mkdtempSync(path.join(tmpdir(), 'cg-analytics-ingest-'));
  const server = await startServer(tree, dbDir);
  try {
    const tokens = await createTokens(load === 'plain' ? 1 : 50);
    let counter = 0;
    const run = (duration: number) =>
      autocannon({
        url: `http://127.0.0.1:${PORT}/ingest`,
        method: 'POST',
        connections: 100,
        duration,
        headers: { 'content-type': 'application/json', 'x-ingest-key': INGEST_KEY },
        requests: [
          {
            setupRequest: (request) => {
              counter += 1;
              return { ...request, body: body(load, counter, tokens) };
            },
          },
        ],
      });
    await run(3);
    const pid = server.pid as number;
    const before = cpuMicros(pid);
    const result = await run(seconds);
    const used = cpuMicros(pid) - before;
    if (result.non2xx > 0) throw new Error(`${result.non2xx} requests failed`);
    return { rps: result.requests.average, cpuUs: used / result.requests.total };
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
    rmSync(dbDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const base = baselineTree(values.baseline);
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const seconds = Number(values.seconds);
  const loads: Load[] = values.load === 'both' ? ['plain', 'attributed'] : [values.load as Load];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const load of loads) {
    const without: { rps: number; cpuUs: number }[] = [];
    const withRollups: { rps: number; cpuUs: number }[] = [];
    for (let round = 0; round < Number(values.rounds); round += 1) {
      without.push(await measure(base, load, seconds));
      withRollups.push(await measure(ROOT, load, seconds));
      const a = without[round];
      const b = withRollups[round];
      process.stdout.write(
        `${load} round ${round + 1}: without rollups ${a?.rps.toFixed(0)} req/s, ${a?.cpuUs.toFixed(1)} us CPU/request; ` +
          `with rollups ${b?.rps.toFixed(0)} req/s, ${b?.cpuUs.toFixed(1)} us CPU/request\n`,
      );
    }
    const cpuA = median(without.map((r) => r.cpuUs));
    const cpuB = median(withRollups.map((r) => r.cpuUs));
    const rpsA = median(without.map((r) => r.rps));
    const rpsB = median(withRollups.map((r) => r.rps));
    process.stdout.write(
      `${load}: median CPU/request ${cpuA.toFixed(1)} -> ${cpuB.toFixed(1)} us (x${(cpuB / cpuA).toFixed(2)}); ` +
        `median req/s ${rpsA.toFixed(0)} -> ${rpsB.toFixed(0)} (x${(rpsB / rpsA).toFixed(2)})\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
