/**
 * Ingest throughput with and without rollup maintenance: the same load against a server built
 * from a baseline commit (before rollups, default: the merge base with main) and against this
 * working tree, alternating runs so that machine noise hits both.
 *
 *   npx tsx bench/ingest-rollups.ts [--baseline <git ref>] [--seconds 15] [--rounds 3] [--connections 50]
 *
 * The load is POST /ingest, one record per request, varied like real traffic: 50 tracking tokens,
 * 12 models, three tags and an end-user id on most records, a unique event_id on each.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    seconds: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    port: { type: 'string', default: '5071' },
  },
});

const ROOT = path.resolve(import.meta.dirname, '..');
const ADMIN_KEY = 'bench-admin-key-0123456789';
const INGEST_KEY = 'bench-ingest-key-0123456789';
const PORT = Number(values.port);
const MODELS = [
  'gpt-4o-mini',
  'gpt-4o',
  'gpt-4.1',
  'gpt-4.1-mini',
  'gpt-4.1-nano',
  'o3',
  'o4-mini',
  'gpt-5',
  'gpt-5-mini',
  'text-embedding-3-small',
  'ft:gpt-4o-mini:acme::x1',
  'gpt-4o-2024-08-06',
];
const TEAMS = ['search', 'ads', 'support', 'growth', 'infra'];
const FEATURES = ['chat', 'summary', 'classify', 'extract', 'rerank', 'draft'];

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
}

/** A copy of the baseline tree under /tmp that shares this tree's node_modules. */
function baselineTree(ref: string): string {
  const sha = git(['rev-parse', ref]);
  const dir = path.join(tmpdir(), `cg-analytics-bench-baseline-${sha.slice(0, 12)}`);
  if (!existsSync(path.join(dir, 'src', 'main.ts'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${sha} | tar -x -C ${dir}`], { cwd: ROOT });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  }
  return dir;
}

async function startServer(tree: string, dbDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: tree,
    env: {
      ...process.env,
      DB_PATH: path.join(dbDir, 'usage.sqlite'),
      API_KEY: ADMIN_KEY,
      INGEST_KEY,
      SERVER_PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_RPM: '1000000000',
      INGEST_RPM: '1000000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let attempt = 0; attempt < 200; attempt += 1) {
    try {
      const response = await fetch(`http://127.0.0.1:${PORT}/ping`);
      if (response.ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server in ${tree} did not start`);
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
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

async function measure(tree: string, seconds: number, connections: number): Promise<number> {
  const dbDir = mkdtempSync(path.join(tmpdir(), 'cg-analytics-ingest-'));
  const server = await startServer(tree, dbDir);
  try {
    const tokens = await createTokens(50);
    let counter = 0;
    const result = await autocannon({
      url: `http://127.0.0.1:${PORT}/ingest`,
      method: 'POST',
      connections,
      duration: seconds,
      headers: { 'content-type': 'application/json', 'x-ingest-key': INGEST_KEY },
      requests: [
        {
          setupRequest: (request) => {
            counter += 1;
            const n = counter;
            const body: Record<string, unknown> = {
              tracking_token: tokens[(n * 7) % tokens.length],
              event_id: `chatcmpl-bench-${n}`,
              model: MODELS[(n * 13) % MODELS.length],
              prompt_tokens: 200 + (n % 3000),
              completion_tokens: 50 + (n % 700),
              tags: {
                team: TEAMS[n % TEAMS.length],
                env: n % 9 === 0 ? 'staging' : 'prod',
                feature: FEATURES[n % 6],
              },
            };
            if (n % 5 !== 0) body.user = `user-${n % 2000}`;
            return { ...request, body: JSON.stringify(body) };
          },
        },
      ],
    });
    if (result.non2xx > 0) throw new Error(`${result.non2xx} requests failed`);
    return result.requests.average;
  } finally {
    await stopServer(server);
    rmSync(dbDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const ref = values.baseline ?? git(['merge-base', 'HEAD', 'main']);
  const base = baselineTree(ref);
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const baseline: number[] = [];
  const current: number[] = [];
  for (let round = 0; round < Number(values.rounds); round += 1) {
    baseline.push(await measure(base, seconds, connections));
    current.push(await measure(ROOT, seconds, connections));
    process.stdout.write(
      `round ${round + 1}: baseline ${Math.round(baseline[round] ?? 0)} req/s, with rollups ${Math.round(current[round] ?? 0)} req/s\n`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  process.stdout.write(
    `baseline ${ref.slice(0, 12)}: median ${Math.round(median(baseline))} req/s (${baseline.map(Math.round).join(', ')})\n` +
      `with rollups: median ${Math.round(median(current))} req/s (${current.map(Math.round).join(', ')})\n` +
      `ratio ${(median(current) / median(baseline)).toFixed(2)}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
