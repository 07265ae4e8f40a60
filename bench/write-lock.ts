/**
 * A write lock held by another process (issue 16.4): another process holds BEGIN EXCLUSIVE on the
 * service's database while clients ingest. Prints what ingest answered and how long it took,
 * the worst GET /ping latency meanwhile, and /health during and after.
 *
 *   npx tsx bench/write-lock.ts                            # 50 concurrent ingests, lock held 6 s
 *   npx tsx bench/write-lock.ts --root /tmp/other-checkout # the same on another build
 *
 * The service runs from the TypeScript sources (tsx), in production mode, as its own process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 && args[index + 1] ? (args[index + 1] as string) : fallback;
};
const root = path.resolve(option('root', here));
const concurrent = Number(option('ingests', '50'));
const holdMs = Number(option('hold-ms', '6000'));

const INGEST_KEY = 'bench-ingest-key-0123456789abcdef';
const API_KEY = 'bench-admin-key-0123456789abcdef';

async function startService(dbPath: string): Promise<{ child: ChildProcess; baseUrl: string }> {
  const tsx = pathToFileURL(path.join(here, 'node_modules/tsx/dist/loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', tsx, path.join(root, 'src/main.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      ENV: 'production',
      API_KEY,
      INGEST_KEY,
      DB_PATH: dbPath,
      HOST: '127.0.0.1',
      SERVER_PORT: '0',
      REQUEST_LOG_SAMPLE_RATE: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const started = Date.now();
  while (Date.now() - started < 30_000) {
    const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
    if (match?.[1]) return { child, baseUrl: match[1] };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`service did not start:\n${output}`);
}

/** Another process that takes the write lock and keeps it until killed. */
async function holdLock(dbPath: string): Promise<ChildProcess> {
  const betterSqlite = pathToFileURL(path.join(here, 'node_modules/better-sqlite3/lib/index.js')).href;
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { default: Database } = await import(${JSON.stringify(betterSqlite)});
       const db = new Database(${JSON.stringify(dbPath)});
       db.exec('BEGIN EXCLUSIVE');
       console.log('locked');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
  return holder;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-write-lock-'));
  const dbPath = path.join(dir, 'usage.sqlite');
  const { child, baseUrl } = await startService(dbPath);
  try {
    const created = await fetch(`${baseUrl}/ingest/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ label: 'bench' }),
    });
    const { token } = (await created.json()) as { token: string };
    const ingest = async (eventId: string) => {
      const started = performance.now();
      const response = await fetch(`${baseUrl}/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ingest-key': INGEST_KEY },
        body: JSON.stringify({
          tracking_token: token,
          event_id: eventId,
          model: 'gpt-4o-mini',
          prompt_tokens: 10,
        }),
      });
      await response.text();
      return { status: response.status, ms: performance.now() - started };
    };
    await ingest('warm-up');

    const holder = await holdLock(dbPath);
    const lockedAt = performance.now();
    let worstPingMs = 0;
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        const started = performance.now();
        await (await fetch(`${baseUrl}/ping`)).text();
        worstPingMs = Math.max(worstPingMs, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const answers = await Promise.all(Array.from({ length: concurrent }, (_, i) => ingest(`locked-${i}`)));
    const healthDuring = await fetch(`${baseUrl}/health`);
    const healthDuringBody = await healthDuring.text();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, holdMs - (performance.now() - lockedAt))));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    pinging = false;
    await pinger;
    const after = await ingest('after-release');
    const healthAfter = await fetch(`${baseUrl}/health`);

    const statuses = new Map<number, number>();
    for (const answer of answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    const times = answers.map((a) => a.ms).sort((a, b) => a - b);
    console.log(`root ${root}; another process holds BEGIN EXCLUSIVE for ${holdMs / 1000} s`);
    console.log(
      `${concurrent} concurrent ingests: ${[...statuses].map(([status, n]) => `${n} x ${status}`).join(', ')}; answered after ${Math.round(times[0] ?? 0)}-${Math.round(times.at(-1) ?? 0)} ms`,
    );
    console.log(`worst /ping while locked: ${Math.round(worstPingMs)} ms`);
    console.log(`/health while locked: ${healthDuring.status} ${healthDuringBody}`);
    console.log(
      `after release: ingest ${after.status} in ${Math.round(after.ms)} ms, /health ${healthAfter.status}`,
    );
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
