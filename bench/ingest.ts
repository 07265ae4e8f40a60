/**
 * Ingest benchmark: Cost Guardian's POST /ingest (durable: synchronous=FULL, group commit) against
 * a bare node:http server that only parses the same JSON and answers 201, in the same run, with the
 * same load (autocannon, 100 connections). Then the same ingest load while a client downloads a
 * 1M-row CSV export, to show that heavy reads do not stall ingest.
 *
 *   npm run bench                       # everything (about 2.5 minutes)
 *   npm run bench -- --duration 5       # shorter runs
 *   npm run bench -- --rounds 1         # one bare/Cost Guardian pair instead of three
 *   npm run bench -- --skip-export      # without the 1M-row export case
 *   npm run bench -- --log-sample 1     # log every request (to see what access logging costs)
 *   npm run bench -- --budgets          # Cost Guardian without budgets against the same with 20
 *                                       # budgets, every record in 3 of them (alternating rounds)
 *
 * The service runs from dist/ (built first), as `npm start` runs it, in its own process.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 && args[index + 1] ? (args[index + 1] as string) : fallback;
};
const durationSeconds = Number(option('duration', '10'));
const connections = Number(option('connections', '100'));
const exportRows = Number(option('export-rows', '1000000'));
const logSample = option('log-sample', '0.01');
const skipExport = args.includes('--skip-export');
const budgetsMode = args.includes('--budgets');
// The ratio moves by several points between two identical runs on a shared 2-core machine, so the
// two servers are loaded in turn, `rounds` times, and the median ratio is the result.
const rounds = Number(option('rounds', '3'));

const INGEST_KEY = 'bench-ingest-key-0123456789';
const API_KEY = 'bench-admin-key-0123456789';

interface LoadResult {
  requestsPerSecond: number;
  /** Requests answered in the run. */
  total: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

function waitForServer(url: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      fetch(url)
        .then((r) => (r.ok ? resolve() : retry()))
        .catch(retry);
    };
    const retry = () =>
      Date.now() - started > timeoutMs
        ? reject(new Error(`no answer from ${url}`))
        : setTimeout(attempt, 100);
    attempt();
  });
}

function startProcess(command: string, argv: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(command, argv, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function load(
  url: string,
  headers: Record<string, string>,
  body: (i: number) => string,
  seconds = durationSeconds,
): Promise<LoadResult> {
  let counter = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration: seconds,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        requests: [
          {
            setupRequest: (request) => {
              counter += 1;
              return { ...request, body: body(counter) };
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          requestsPerSecond: result.requests.average,
          total: result.requests.total,
          p50: result.latency.p50,
          p99: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors,
        });
      },
    );
  });
}

function recordBody(token: string, runId: string) {
  return (i: number) =>
    JSON.stringify({
      tracking_token: token,
      event_id: `chatcmpl-${runId}-${i}`,
      model: 'gpt-4o-mini-2024-07-18',
      prompt_tokens: 1200 + (i % 500),
      completion_tokens: 300 + (i % 200),
      total_tokens: 1500 + (i % 500) + (i % 200),
    });
}

/** Writes `rows` usage rows straight into the database, for the export case. */
function seedRows(dbPath: string, tokenId: number, rows: number): void {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  const insert = db.prepare(`INSERT INTO usage_log (ts, received_at, source, ingest_token_id, provider, model,
      prompt_tokens, completion_tokens, total_tokens, cost_nanousd, pricing_status, pricing_source)
    VALUES (?, ?, 'ingest', ?, 'openai', ?, ?, ?, ?, ?, 'priced', 'bench')`);
  const models = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'o3', 'gpt-5-mini'];
  const start = Date.UTC(2025, 10, 1);
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i += 1) {
      insert.run(
        start + i * 30_000,
        start + i * 30_000,
        tokenId,
        models[i % models.length],
        1000 + (i % 777),
        200 + (i % 333),
        1200 + (i % 777) + (i % 333),
        450_000 + i,
      );
    }
  });
  for (let from = 0; from < rows; from += 100_000) batch(from, Math.min(rows, from + 100_000));
  db.close();
}

async function exportCsv(baseUrl: string): Promise<{ rows: number; seconds: number; megabytes: number }> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/data?format=csv`, { headers: { 'x-api-key': API_KEY } });
  if (!response.ok || !response.body) throw new Error(`export failed: ${response.status}`);
  let newlines = 0;
  let bytes = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    for (const byte of chunk) if (byte === 10) newlines += 1;
  }
  return { rows: newlines - 1, seconds: (performance.now() - started) / 1000, megabytes: bytes / 1e6 };
}

function serverRssMb(pid: number | undefined): number {
  if (!pid) return 0;
  const status = execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' });
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function print(label: string, r: LoadResult) {
  console.log(
    `${label.padEnd(34)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s   p50 ${String(r.p50).padStart(3)} ms   p99 ${String(r.p99).padStart(3)} ms   non-2xx ${r.non2xx}   errors ${r.errors}`,
  );
}

async function main() {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  );
  console.log(
    `load: autocannon, ${connections} connections, ${durationSeconds} s per run; service log sample rate ${logSample}\n`,
  );
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });

  const bareUrl = 'http://127.0.0.1:5901';
  const port = '5902';
  const base = `http://127.0.0.1:${port}`;
  const env = (dbPath: string) => ({
    ENV: 'production',
    API_KEY,
    INGEST_KEY,
    HOST: '127.0.0.1',
    SERVER_PORT: port,
    DB_PATH: dbPath,
    RATE_LIMIT_RPM: '100000000',
    INGEST_RPM: '100000000',
    LOG_LEVEL: 'info',
    REQUEST_LOG_SAMPLE_RATE: logSample,
  });
  const dirs: string[] = [];
  let server: ChildProcess | undefined;
  if (budgetsMode) {
    try {
      await budgetRounds(
        base,
        (dbPath) => {
          server = startProcess(process.execPath, ['dist/main.js'], env(dbPath));
          return server;
        },
        dirs,
      );
    } finally {
      if (server) await stop(server);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  try {
    const ratios: number[] = [];
    let last: { dbPath: string; tokenId: number; token: string } | undefined;
    for (let round = 1; round <= rounds; round += 1) {
      // Bare node:http: parse the JSON body, answer 201.
      const bare = startProcess(process.execPath, ['--input-type=module', '-e', BARE_SERVER], {
        PORT: '5901',
      });
      await waitForServer(`${bareUrl}/`);
      const bareResult = await load(`${bareUrl}/ingest`, {}, recordBody('x', `bare${round}`));
      await stop(bare);

      // Cost Guardian on a fresh SQLite file.
      const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-'));
      dirs.push(dir);
      const dbPath = path.join(dir, 'usage.sqlite');
      server = startProcess(process.execPath, ['dist/main.js'], env(dbPath));
      await waitForServer(`${base}/ping`);
      const created = await fetch(`${base}/ingest/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify({ label: 'bench' }),
      });
      const { id: tokenId, token } = (await created.json()) as { id: number; token: string };
      const cgResult = await load(
        `${base}/ingest`,
        { 'x-ingest-key': INGEST_KEY },
        recordBody(token, `cg${round}`),
      );
      const metrics = (await (
        await fetch(`${base}/metrics`, { headers: { 'x-api-key': API_KEY } })
      ).json()) as {
        write_batches: { mean_records: number; max_records: number; mean_commit_ms: number };
      };
      await stop(server);
      server = undefined;
      last = { dbPath, tokenId, token };

      const ratio = (cgResult.requestsPerSecond / bareResult.requestsPerSecond) * 100;
      ratios.push(ratio);
      console.log(`POST /ingest, same JSON body, same load (round ${round} of ${rounds}):`);
      print('bare node:http (parse + 201)', bareResult);
      print('Cost Guardian (durable)', cgResult);
      console.log(`ratio: ${ratio.toFixed(1)}% of bare`);
      console.log(
        `group commit: ${metrics.write_batches.mean_records.toFixed(1)} records per transaction on average (max ${metrics.write_batches.max_records}), ${metrics.write_batches.mean_commit_ms.toFixed(2)} ms per commit\n`,
      );
    }
    const sorted = [...ratios].sort((x, y) => x - y);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
    console.log(
      `median ratio of ${rounds} round(s): ${median.toFixed(1)}% of bare (rounds: ${ratios.map((r) => `${r.toFixed(1)}%`).join(', ')})   (target >= 50%, p99 < 15 ms)\n`,
    );

    if (!skipExport && last) {
      const { dbPath, tokenId, token } = last;
      console.log(`seeding ${exportRows.toLocaleString('en')} rows for the export case...`);
      seedRows(dbPath, tokenId, exportRows);
      server = startProcess(process.execPath, ['dist/main.js'], env(dbPath));
      await waitForServer(`${base}/ping`);
      const quiet = await load(
        `${base}/ingest`,
        { 'x-ingest-key': INGEST_KEY },
        recordBody(token, 'quiet'),
        5,
      );
      const pid = server.pid;
      const rssBefore = serverRssMb(pid);
      let peakRss = rssBefore;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, serverRssMb(pid));
      }, 200);
      const [during, exported] = await Promise.all([
        load(`${base}/ingest`, { 'x-ingest-key': INGEST_KEY }, recordBody(token, 'export'), durationSeconds),
        exportCsv(base),
      ]);
      clearInterval(sampler);
      console.log(`ingest while a ${exported.rows.toLocaleString('en')}-row CSV export runs:`);
      print('Cost Guardian, no export (5 s)', quiet);
      print('Cost Guardian, during export', during);
      console.log(
        `export: ${exported.rows.toLocaleString('en')} rows, ${exported.megabytes.toFixed(0)} MB in ${exported.seconds.toFixed(1)} s = ${(exported.rows / exported.seconds / 1000).toFixed(0)}k rows/s; server RSS ${rssBefore.toFixed(0)} -> peak ${peakRss.toFixed(0)} MB   (target: ingest p99 < 25 ms during export)`,
      );
    }
  } finally {
    if (server) await stop(server);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * 20 budgets of which every bench record matches 3 (everything this month, its token today, its
 * model's prefix over a rolling day); the 17 others differ in token, model, provider, user or tag,
 * some of them only in their last field, so that every matcher runs.
 */
function benchBudgets(tokenId: number, otherTokenId: number): Record<string, unknown>[] {
  const matching = [
    { window: { kind: 'month' } },
    { window: { kind: 'day', tz: 'Europe/Paris' }, scope: { token_id: tokenId } },
    { window: { kind: 'rolling', hours: 24 }, scope: { model: 'gpt-4o-mini*' } },
  ];
  const others = [
    { scope: { token_id: otherTokenId } },
    { scope: { model: 'gpt-4o' } },
    { scope: { model: 'claude-*' } },
    { scope: { provider: 'anthropic' } },
    { scope: { provider: 'google' } },
    { scope: { user: 'alice' } },
    { scope: { tags: { team: 'search' } } },
    { scope: { token_id: tokenId, model: 'gpt-4.1*' } },
    { scope: { token_id: tokenId, user: 'bob' } },
    { scope: { token_id: tokenId, tags: { env: 'prod' } } },
    { scope: { model: 'gpt-4o-mini*', provider: 'azure' } },
    { scope: { token_id: otherTokenId, model: 'gpt-4o-mini*' } },
    { scope: { model: 'o3*' } },
    { scope: { model: 'gpt-5*' } },
    { scope: { user: 'carol', tags: { team: 'ads' } } },
    { scope: { provider: 'openai', model: 'text-embedding-3-small' } },
    { scope: { tags: { feature: 'chat' } } },
  ];
  return [...matching, ...others].map((budget, i) => ({
    name: `bench budget ${i}`,
    limit_usd: 1_000_000,
    window: { kind: 'week', tz: 'UTC' },
    ...budget,
  }));
}

/** Alternating rounds of Cost Guardian without budgets and with 20 (each record in 3). */
async function budgetRounds(base: string, start: (dbPath: string) => ChildProcess, dirs: string[]) {
  const admin = (path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify(body),
    }).then(async (r) => {
      if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<{ id: number; token: string }>;
    });
  // The server's main-thread CPU per request moves much less than requests per second on a shared
  // machine (the WAL syncs on other threads are left out: their number follows the load, not budgets).
  const cpuMicros = (pid: number) => {
    const fields = (readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100;
  };
  const run = async (
    withBudgets: boolean,
    round: number,
  ): Promise<LoadResult & { cpuPerRequest: number }> => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-'));
    dirs.push(dir);
    const child = start(path.join(dir, 'usage.sqlite'));
    try {
      await waitForServer(`${base}/ping`);
      const { id, token } = await admin('/ingest/tokens', { label: 'bench' });
      const other = await admin('/ingest/tokens', { label: 'other' });
      if (withBudgets) {
        for (const budget of benchBudgets(id, other.id)) await admin('/budgets', budget);
        const probe = await fetch(`${base}/ingest`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-ingest-key': INGEST_KEY },
          body: recordBody(token, `probe${round}`)(0),
        });
        const verdicts = ((await probe.json()) as { budgets: unknown[] }).budgets;
        if (verdicts.length !== 3) throw new Error(`expected 3 verdicts per record, got ${verdicts.length}`);
      }
      const cpuBefore = cpuMicros(child.pid ?? 0);
      const result = await load(
        `${base}/ingest`,
        { 'x-ingest-key': INGEST_KEY },
        recordBody(token, `${withBudgets ? 'b' : 'n'}${round}`),
      );
      return {
        ...result,
        cpuPerRequest: (cpuMicros(child.pid ?? 0) - cpuBefore) / Math.max(1, result.total),
      };
    } finally {
      await stop(child);
    }
  };
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    // The order alternates too, so that neither side always runs on a warmer machine.
    const order = round % 2 === 1 ? [false, true] : [true, false];
    const results = new Map<boolean, LoadResult & { cpuPerRequest: number }>();
    for (const withBudgets of order) results.set(withBudgets, await run(withBudgets, round));
    const without = results.get(false) as LoadResult & { cpuPerRequest: number };
    const withB = results.get(true) as LoadResult & { cpuPerRequest: number };
    const ratio = (withB.requestsPerSecond / without.requestsPerSecond) * 100;
    ratios.push(ratio);
    cpuRatios.push((withB.cpuPerRequest / without.cpuPerRequest) * 100);
    console.log(
      `POST /ingest, round ${round} of ${rounds} (${order.map((b) => (b ? 'with' : 'without')).join(' then ')}):`,
    );
    print('Cost Guardian, no budgets', without);
    print('Cost Guardian, 20 budgets (3 match)', withB);
    console.log(
      `with budgets: ${ratio.toFixed(1)}% of the throughput without; main-thread CPU per request ${without.cpuPerRequest.toFixed(1)} -> ${withB.cpuPerRequest.toFixed(1)} us (${(cpuRatios[cpuRatios.length - 1] ?? 0).toFixed(1)}%)\n`,
    );
  }
  const medianOf = (values: number[]) =>
    [...values].sort((x, y) => x - y)[Math.floor((values.length - 1) / 2)] ?? 0;
  console.log(
    `median of ${rounds} round(s): throughput ${medianOf(ratios).toFixed(1)}% of without (rounds: ${ratios.map((r) => `${r.toFixed(1)}%`).join(', ')})   (target >= 90%)`,
  );
  console.log(
    `main-thread CPU per request with budgets: ${medianOf(cpuRatios).toFixed(1)}% of without (rounds: ${cpuRatios.map((r) => `${r.toFixed(1)}%`).join(', ')})   (target <= 111%)`,
  );
}

const BARE_SERVER = `
import { createServer } from 'node:http';
let id = 0;
createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    if (req.method === 'POST') {
      JSON.parse(body);
      id += 1;
      const out = JSON.stringify({ ok: true, id });
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    }
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
