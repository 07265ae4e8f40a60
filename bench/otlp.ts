/**
 * OTLP and provider-report benchmark (issue 14).
 *
 * 1. OTLP spans/s against /ingest/batch records/s in the same run: the service (dist/, its own
 *    process, production mode, fresh SQLite file) is loaded in turn with POST /ingest/batch (100
 *    records a request) and POST /v1/traces (100 GenAI spans a request, protobuf, and JSON), the
 *    same number of connections and seconds, every record and span with its own id. Target: OTLP
 *    protobuf spans/s >= 50% of batch records/s (median of the rounds).
 * 2. A provider pull of 90 days x 50 models (OpenAI completions and costs, Anthropic messages and
 *    costs, from a fake admin API in this process): how long POST /reports/sync takes, and
 *    /ingest/batch records/s with and without full pulls running back to back.
 *
 *   npx tsx bench/otlp.ts                 # 3 rounds of 10 s, then the pull (about 2.5 minutes)
 *   npx tsx bench/otlp.ts --rounds 5 --duration 8 --skip-pull   # the ratio only
 *   npx tsx bench/otlp.ts --skip-otlp                        # the provider pull only
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { loadOtlpRoot } from '../src/otlp/otlp-protobuf.js';
import { ANTHROPIC_PATHS, OPENAI_PATHS, startFakeAdminApi } from '../test/fake-admin-api.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 && args[index + 1] ? (args[index + 1] as string) : fallback;
};
const durationSeconds = Number(option('duration', '10'));
const connections = Number(option('connections', '20'));
const rounds = Number(option('rounds', '3'));
const perRequest = Number(option('per-request', '100'));
const pool = Number(option('pool', '2000'));
const skipPull = args.includes('--skip-pull');
const skipOtlp = args.includes('--skip-otlp');

const INGEST_KEY = 'bench-ingest-key-0123456789';
const API_KEY = 'bench-admin-key-0123456789';
const OPENAI_KEY = 'sk-admin-bench-0123456789abcdef';
const ANTHROPIC_KEY = 'sk-ant-admin-bench-0123456789';
const PORT = '5912';
const BASE = `http://127.0.0.1:${PORT}`;

interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  p99: number;
  non2xx: number;
  errors: number;
  wrapped: boolean;
}

async function waitForServer(url: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    if (Date.now() - started > timeoutMs) throw new Error(`no answer from ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function startServer(dbPath: string, extra: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['dist/main.js'], {
    cwd: root,
    env: {
      ...process.env,
      ENV: 'production',
      API_KEY,
      INGEST_KEY,
      HOST: '127.0.0.1',
      SERVER_PORT: PORT,
      DB_PATH: dbPath,
      RATE_LIMIT_RPM: '100000000',
      INGEST_RPM: '100000000',
      BODY_LIMIT_BYTES: '4194304',
      LOG_LEVEL: 'warn',
      ...extra,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** CPU seconds the process has used (user + system), from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function load(url: string, headers: Record<string, string>, bodies: (string | Buffer)[], seconds: number) {
  let next = 0;
  let wrapped = false;
  return new Promise<LoadResult>((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration: seconds,
        method: 'POST',
        headers,
        requests: [
          {
            setupRequest: (request) => {
              if (next >= bodies.length) wrapped = true;
              const body = bodies[next % bodies.length];
              next += 1;
              return { ...request, body: body as string };
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          requestsPerSecond: result.requests.average,
          requests: result.requests.total,
          p99: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors,
          wrapped,
        });
      },
    );
  });
}

const MODELS = ['gpt-4o-mini-2024-07-18', 'gpt-4o-2024-08-06', 'claude-sonnet-4-20250514'];

function batchBodies(token: string, run: string): string[] {
  return Array.from({ length: pool }, (_, b) =>
    JSON.stringify({
      records: Array.from({ length: perRequest }, (_, i) => ({
        tracking_token: token,
        event_id: `chatcmpl-${run}-${b}-${i}`,
        model: MODELS[i % MODELS.length],
        prompt_tokens: 1200 + (i % 500),
        completion_tokens: 300 + (i % 200),
        cached_tokens: 1000,
      })),
    }),
  );
}

/** An export as the OTel SDK sends it: one resource, one scope, `perRequest` GenAI spans. */
function traceRequest(run: string, b: number) {
  const attribute = (key: string, value: string | number) => ({
    key,
    value: typeof value === 'number' ? { intValue: value } : { stringValue: value },
  });
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [attribute('service.name', 'bench-app'), attribute('telemetry.sdk.language', 'nodejs')],
        },
        scopeSpans: [
          {
            scope: { name: '@traceloop/instrumentation-openai', version: '0.27.0' },
            spans: Array.from({ length: perRequest }, (_, i) => ({
              traceId: Buffer.from(`${run}${b}`.padEnd(16, 'x').slice(0, 16)),
              spanId: Buffer.from(String(i).padStart(8, '0')),
              name: 'chat gpt-4o',
              kind: 3,
              startTimeUnixNano: String(nowNs - 2_000_000_000n),
              endTimeUnixNano: String(nowNs),
              attributes: [
                attribute('gen_ai.provider.name', 'openai'),
                attribute('gen_ai.operation.name', 'chat'),
                attribute('gen_ai.request.model', 'gpt-4o'),
                attribute('gen_ai.response.model', MODELS[i % 2] as string),
                attribute('gen_ai.response.id', `chatcmpl-${run}-${b}-${i}`),
                attribute('gen_ai.usage.input_tokens', 1200 + (i % 500)),
                attribute('gen_ai.usage.output_tokens', 300 + (i % 200)),
                attribute('gen_ai.usage.cache_read.input_tokens', 1000),
                attribute('server.address', 'api.openai.com'),
              ],
              status: { code: 1 },
            })),
          },
        ],
      },
    ],
  };
}

function protobufBodies(run: string): Buffer[] {
  const type = loadOtlpRoot().lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  return Array.from({ length: pool }, (_, b) =>
    Buffer.from(type.encode(type.fromObject(traceRequest(run, b))).finish()),
  );
}

function jsonBodies(run: string): string[] {
  return Array.from({ length: pool }, (_, b) =>
    JSON.stringify(traceRequest(run, b), (_key, value) =>
      Buffer.isBuffer(value) || (value && value.type === 'Buffer' && Array.isArray(value.data))
        ? Buffer.from(value.data ?? value).toString('hex')
        : value,
    ),
  );
}

async function createToken(): Promise<string> {
  const created = await fetch(`${BASE}/ingest/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ label: 'bench' }),
  });
  return ((await created.json()) as { token: string }).token;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;
const line = (label: string, r: LoadResult, unit: number) =>
  console.log(
    `${label.padEnd(30)} ${(r.requestsPerSecond * unit).toFixed(0).padStart(7)} records/s   p99 ${String(r.p99).padStart(4)} ms   non-2xx ${r.non2xx}   errors ${r.errors}${r.wrapped ? '   (body pool wrapped: some duplicates)' : ''}`,
  );

/**
 * The machine is shared and its speed moves within seconds, so each round alternates short runs of
 * the three kinds on one server, and reports both throughput and the server's CPU time per record
 * (steadier under outside load than records/s).
 */
async function otlpRatio(dirs: string[]) {
  const kinds = ['batch', 'protobuf', 'json'] as const;
  const ratios = { protobuf: [] as number[], json: [] as number[] };
  const cpuPer = { batch: [] as number[], protobuf: [] as number[], json: [] as number[] };
  for (let round = 1; round <= rounds; round += 1) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-otlp-'));
    dirs.push(dir);
    const server = startServer(path.join(dir, 'usage.sqlite'));
    try {
      await waitForServer(`${BASE}/ping`);
      const token = await createToken();
      const headers = { 'x-ingest-key': INGEST_KEY, 'x-tracking-token': token };
      const bodies = {
        batch: batchBodies(token, `b${round}`),
        protobuf: protobufBodies(`p${round}`),
        json: jsonBodies(`j${round}`),
      };
      const types = {
        batch: 'application/json',
        protobuf: 'application/x-protobuf',
        json: 'application/json',
      };
      const urls = { batch: '/ingest/batch', protobuf: '/v1/traces', json: '/v1/traces' };
      const offsets = { batch: 0, protobuf: 0, json: 0 };
      const totals = {
        batch: { requests: 0, seconds: 0, cpu: 0 },
        protobuf: { requests: 0, seconds: 0, cpu: 0 },
        json: { requests: 0, seconds: 0, cpu: 0 },
      };
      const slices = 4;
      const slice = Math.max(2, Math.round(durationSeconds / slices));
      for (let s = 0; s < slices; s += 1) {
        for (const kind of kinds) {
          const cpuBefore = cpuSeconds(server.pid);
          const result = await load(
            `${BASE}${urls[kind]}`,
            { ...headers, 'content-type': types[kind] },
            bodies[kind].slice(offsets[kind]),
            slice,
          );
          offsets[kind] = Math.min(bodies[kind].length - 1, offsets[kind] + result.requests);
          totals[kind].requests += result.requests;
          totals[kind].seconds += slice;
          totals[kind].cpu += cpuSeconds(server.pid) - cpuBefore;
          if (result.non2xx > 0 || result.errors > 0)
            console.log(`${kind}: non-2xx ${result.non2xx}, errors ${result.errors}`);
        }
      }
      const rate = (kind: (typeof kinds)[number]) =>
        (totals[kind].requests * perRequest) / totals[kind].seconds;
      const cpu = (kind: (typeof kinds)[number]) =>
        (totals[kind].cpu * 1e6) / (totals[kind].requests * perRequest);
      console.log(
        `round ${round} of ${rounds} (load average ${loadavg()[0]?.toFixed(1)}), ${slices} alternating slices of ${slice} s each:`,
      );
      for (const kind of kinds) {
        console.log(
          `  ${urls[kind].padEnd(14)} ${kind.padEnd(9)} ${rate(kind).toFixed(0).padStart(7)} records/s   server CPU ${cpu(kind).toFixed(0).padStart(4)} us/record`,
        );
        cpuPer[kind].push(cpu(kind));
      }
      ratios.protobuf.push((rate('protobuf') / rate('batch')) * 100);
      ratios.json.push((rate('json') / rate('batch')) * 100);
      console.log(
        `  throughput ratio: protobuf ${ratios.protobuf.at(-1)?.toFixed(1)}%, JSON ${ratios.json.at(-1)?.toFixed(1)}% of batch; CPU ratio (batch/OTLP): protobuf ${((cpu('batch') / cpu('protobuf')) * 100).toFixed(1)}%, JSON ${((cpu('batch') / cpu('json')) * 100).toFixed(1)}%\n`,
      );
    } finally {
      await stop(server);
    }
  }
  const cpuRatio = (kind: 'protobuf' | 'json') => (median(cpuPer.batch) / median(cpuPer[kind])) * 100;
  console.log(
    `median of ${rounds}: OTLP protobuf ${median(ratios.protobuf).toFixed(1)}% (${ratios.protobuf.map((r) => r.toFixed(1)).join(' / ')}), JSON ${median(ratios.json).toFixed(1)}% (${ratios.json.map((r) => r.toFixed(1)).join(' / ')}) of /ingest/batch records/s; by server CPU per record: protobuf ${cpuRatio('protobuf').toFixed(1)}%, JSON ${cpuRatio('json').toFixed(1)}%   (target >= 50%)\n`,
  );
}

/** The fake admin API with 90 days x 50 models of every report; run in its own process by --serve-fake. */
export async function seededFakeAdminApi(days: number, models: number) {
  const fake = await startFakeAdminApi({ openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY });
  fake.pageSize = 180;
  const today = Math.floor(Date.now() / 86_400_000) * 86_400;
  for (let d = 0; d <= days; d += 1) {
    const day = today - d * 86_400;
    fake.data.get(OPENAI_PATHS.completions)?.set(
      day,
      Array.from({ length: models }, (_, m) => ({
        object: 'organization.usage.completions.result',
        input_tokens: 1_000_000 + m,
        output_tokens: 200_000,
        input_cached_tokens: 100_000,
        num_model_requests: 100,
        project_id: `proj_${m % 5}`,
        api_key_id: `key_${m % 10}`,
        model: m % 2 ? `gpt-4o-mini-2024-07-18-v${m}` : 'gpt-4o-2024-08-06',
        batch: false,
        service_tier: 'default',
      })),
    );
    fake.data.get(OPENAI_PATHS.costs)?.set(
      day,
      Array.from({ length: models * 2 }, (_, i) => ({
        object: 'organization.costs.result',
        amount: { value: 1.25, currency: 'usd' },
        line_item: `model-${i >> 1}, ${i % 2 ? 'output' : 'input'}`,
        project_id: `proj_${i % 5}`,
        api_key_id: null,
      })),
    );
    fake.data.get(ANTHROPIC_PATHS.messages)?.set(
      day,
      Array.from({ length: models }, (_, m) => ({
        api_key_id: `apikey_${m % 10}`,
        workspace_id: `wrkspc_${m % 5}`,
        model: `claude-sonnet-4-20250514-v${m}`,
        service_tier: 'standard',
        uncached_input_tokens: 500_000,
        cache_read_input_tokens: 100_000,
        cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 0 },
        output_tokens: 100_000,
      })),
    );
    fake.data.get(ANTHROPIC_PATHS.costs)?.set(
      day,
      Array.from({ length: models * 2 }, (_, i) => ({
        currency: 'USD',
        amount: '125.5',
        workspace_id: `wrkspc_${i % 5}`,
        description: `Claude model ${i >> 1} ${i % 2 ? 'output' : 'input'}`,
        model: `claude-sonnet-4-20250514-v${i >> 1}`,
        cost_type: 'tokens',
        service_tier: 'standard',
        token_type: i % 2 ? 'output_tokens' : 'uncached_input_tokens',
      })),
    );
  }
  return fake;
}

async function providerPull(dirs: string[]) {
  const days = 90;
  const models = 50;
  // The fake provider runs in a process of its own, so that serving it does not slow the load generator.
  const fakeProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/otlp.ts', '--serve-fake'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const fakeUrl = await new Promise<string>((resolve) =>
    fakeProcess.stdout?.once('data', (chunk) => resolve(String(chunk).trim())),
  );
  const fake = { url: fakeUrl, close: () => stop(fakeProcess) };
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-pull-'));
  dirs.push(dir);
  const dbPath = path.join(dir, 'usage.sqlite');
  const server = startServer(dbPath, {
    OPENAI_ADMIN_KEY: OPENAI_KEY,
    OPENAI_ADMIN_BASE_URL: `${fake.url}/v1`,
    ANTHROPIC_ADMIN_KEY: ANTHROPIC_KEY,
    ANTHROPIC_ADMIN_BASE_URL: fake.url,
    REPORTS_BACKFILL_DAYS: String(days),
    REPORTS_SYNC_MINUTES: '1440',
  });
  const db = new Database(dbPath);
  db.pragma('busy_timeout = 5000');
  const sync = async () => {
    // Forget where the pulls got to, so that every pull is a full 90-day backfill.
    db.prepare('DELETE FROM provider_report_sync').run();
    const started = performance.now();
    const response = await fetch(`${BASE}/reports/sync`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      body: '{}',
    });
    const body = (await response.json()) as { jobs: { rows: number; error: string | null }[] };
    if (!response.ok || body.jobs.some((j) => j.error))
      throw new Error(`pull failed: ${JSON.stringify(body)}`);
    return { seconds: (performance.now() - started) / 1000, rows: body.jobs.reduce((n, j) => n + j.rows, 0) };
  };
  try {
    await waitForServer(`${BASE}/ping`);
    // The scheduled first pull starts with the server; wait for it so that it does not overlap.
    await fetch(`${BASE}/reports/sync`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      body: '{}',
    });
    const pulls = [await sync(), await sync(), await sync()];
    console.log(
      `full pull of ${days} days x ${models} models (4 reports, ${pulls[0]?.rows.toLocaleString('en')} rows): ${pulls.map((p) => `${p.seconds.toFixed(2)} s`).join(', ')}   (target: seconds)`,
    );
    const token = await createToken();
    const headers = { 'x-ingest-key': INGEST_KEY, 'content-type': 'application/json' };
    const ingestRatios: number[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      const quiet = await load(
        `${BASE}/ingest/batch`,
        headers,
        batchBodies(token, `q${round}`),
        durationSeconds,
      );
      // One full 90-day backfill (the heaviest pull there is; a scheduled pull covers three days)
      // starting a second into the run.
      const pull = new Promise<{ seconds: number; rows: number }>((resolve, reject) =>
        setTimeout(() => sync().then(resolve, reject), 1000),
      );
      const during = await load(
        `${BASE}/ingest/batch`,
        headers,
        batchBodies(token, `d${round}`),
        durationSeconds,
      );
      const pulled = await pull;
      line(`ingest, no pull (round ${round})`, quiet, perRequest);
      line(`ingest, full pull ${pulled.seconds.toFixed(1)} s of it`, during, perRequest);
      ingestRatios.push((during.requestsPerSecond / quiet.requestsPerSecond) * 100);
    }
    console.log(
      `ingest over ${durationSeconds} s with one full pull in it: median ${median(ingestRatios).toFixed(1)}% of ingest without (${ingestRatios.map((r) => r.toFixed(1)).join(' / ')})`,
    );
  } finally {
    db.close();
    await stop(server);
    await fake.close();
  }
}

async function main() {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)}`,
  );
  console.log(
    `load: autocannon, ${connections} connections, ${durationSeconds} s per run, ${perRequest} records or spans a request\n`,
  );
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/copy-assets.mjs'], { cwd: root, stdio: 'inherit' });
  const dirs: string[] = [];
  try {
    if (!skipOtlp) await otlpRatio(dirs);
    if (!skipPull) await providerPull(dirs);
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

if (args.includes('--serve-fake')) {
  const fake = await seededFakeAdminApi(90, 50);
  process.stdout.write(`${fake.url}\n`);
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
    console.error(error);
    process.exit(1);
  });
}
