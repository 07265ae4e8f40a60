/**
 * A full disk, for real: mounts a size-limited tmpfs (needs root), runs the service on it, fills
 * it up, and checks what test/reliability/disk-full.test.ts checks with an injected SQLITE_FULL:
 * 503 storage_full with Retry-After, one log line for the episode, /health and Prometheus say
 * "full", writes resume by themselves once space is freed, nothing acknowledged is lost or stored
 * twice; and that a start on a full disk says that the disk is full.
 *
 *   sudo npx tsx scripts/disk-full.ts            # exits 0 when every check holds, 1 otherwise
 *   sudo npx tsx scripts/disk-full.ts --size-mib 16
 *
 * Without root (or where mounting is not allowed) it says so and exits 2.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const API_KEY = 'disk-full-admin-key-0123456789ab';
const INGEST_KEY = 'disk-full-ingest-key-0123456789ab';
const args = process.argv.slice(2);
const sizeIndex = args.indexOf('--size-mib');
const sizeMib = sizeIndex >= 0 ? Number(args[sizeIndex + 1]) : 8;

const checks: { name: string; ok: boolean; detail: string }[] = [];
function check(name: string, ok: boolean, detail = ''): void {
  checks.push({ name, ok, detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}

function freeBytes(directory: string): number {
  const stats = statfsSync(directory);
  return stats.bavail * stats.bsize;
}

interface Service {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function spawnService(dbPath: string): Service {
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'serve'], {
    cwd: ROOT,
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
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Waits for the listen line, or for the process to exit; returns the base URL or undefined. */
async function listening(service: Service): Promise<string | undefined> {
  const started = Date.now();
  while (Date.now() - started < 60_000) {
    const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(service.output());
    if (match?.[1]) return match[1];
    if (service.child.exitCode !== null) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`service did not start:\n${service.output()}`);
}

async function run(mountPoint: string): Promise<void> {
  const dbPath = path.join(mountPoint, 'usage.sqlite');
  const filler = path.join(mountPoint, 'filler');
  const service = spawnService(dbPath);
  const baseUrl = await listening(service);
  if (!baseUrl) throw new Error(`service exited:\n${service.output()}`);
  const call = async (method: string, url: string, headers: Record<string, string>, body?: unknown) => {
    const response = await fetch(`${baseUrl}${url}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text };
  };
  const created = await call('POST', '/ingest/tokens', { 'x-api-key': API_KEY }, { label: 'disk-full' });
  const { token } = JSON.parse(created.text) as { token: string };
  const pad = 'p'.repeat(4000);
  const ingest = (eventId: string) =>
    call(
      'POST',
      '/ingest',
      { 'x-ingest-key': INGEST_KEY },
      { tracking_token: token, event_id: eventId, model: 'gpt-4o-mini', prompt_tokens: 10, meta: { pad } },
    );

  // Leave about 1 MiB, then ingest until the disk is full.
  writeFileSync(filler, Buffer.alloc(Math.max(0, freeBytes(mountPoint) - 1_048_576)));
  const acknowledged: string[] = [];
  let refused: Awaited<ReturnType<typeof ingest>> | undefined;
  let refusedId = '';
  for (let i = 1; i <= 5000 && !refused; i += 1) {
    const response = await ingest(`evt-${i}`);
    if (response.status === 201) acknowledged.push(`evt-${i}`);
    else {
      refused = response;
      refusedId = `evt-${i}`;
    }
  }
  check(
    'ingest is refused once the disk is full',
    refused !== undefined,
    `${acknowledged.length} records stored first, ${freeBytes(mountPoint)} bytes free`,
  );
  if (!refused) return;
  const body = JSON.parse(refused.text) as { code?: string };
  check(
    'the refusal is 503 storage_full with Retry-After',
    refused.status === 503 && body.code === 'storage_full' && refused.headers.get('retry-after') !== null,
    `${refused.status} ${refused.text}`,
  );
  for (let i = 0; i < 5; i += 1) await ingest(refusedId);
  const health = await call('GET', '/health', {});
  check(
    '/health says degraded, writes full',
    health.status === 503 && JSON.parse(health.text).checks?.writes === 'full',
    `${health.status} ${health.text}`,
  );
  const metrics = await call('GET', '/metrics/prometheus', { 'x-api-key': API_KEY });
  check(
    'Prometheus has cg_db_write_state{state="full"} 1',
    /^cg_db_write_state\{state="full"\} 1$/m.test(metrics.text),
  );
  const fullLines = service
    .output()
    .split('\n')
    .filter((line) => line.includes('is full; writes answer 503 storage_full'));
  check(
    'the episode is logged once, not per refused request',
    fullLines.length === 1,
    `${fullLines.length} lines for 6 refusals`,
  );

  rmSync(filler);
  const recovered = await call('GET', '/health', {});
  check(
    '/health is healthy again once space is freed, before any write',
    recovered.status === 200,
    recovered.text,
  );
  const retried = await ingest(refusedId);
  check('the refused record, sent again, is stored', retried.status === 201, `${retried.status}`);
  acknowledged.push(refusedId);
  check('the end of the episode is logged', /database writes resumed after/.test(service.output()));

  service.child.kill('SIGTERM');
  await service.exited;
  const db = new Database(dbPath, { readonly: true });
  const stored = db.prepare('SELECT event_id FROM usage_log').pluck().all() as string[];
  db.close();
  const storedSet = new Set(stored);
  check(
    'every acknowledged record is stored exactly once, nothing else',
    stored.length === storedSet.size &&
      stored.length === acknowledged.length &&
      acknowledged.every((id) => storedSet.has(id)),
    `${acknowledged.length} acknowledged, ${stored.length} stored`,
  );

  // A start on a full disk.
  writeFileSync(filler, Buffer.alloc(freeBytes(mountPoint)));
  const full = spawnService(dbPath);
  const fullUrl = await listening(full);
  const said = full.output();
  const line =
    said.split('\n').find((l) => /the disk holding .* is full/.test(l)) ?? said.trim().split('\n').at(-1);
  check(
    'a start on a full disk says that the disk is full',
    /the disk holding .* is full/.test(said),
    `${fullUrl ? 'it started' : `it exited ${full.child.exitCode}`}: ${line}`,
  );
  if (full.child.exitCode === null) full.child.kill('SIGTERM');
  await full.exited;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.log('skipped: mounting a tmpfs needs root');
    return 2;
  }
  const mountPoint = mkdtempSync(path.join(tmpdir(), 'cg-disk-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMib}m`, 'tmpfs', mountPoint]);
  } catch (error) {
    console.log(`skipped: cannot mount a tmpfs here (${(error as Error).message.split('\n')[0]})`);
    rmSync(mountPoint, { recursive: true, force: true });
    return 2;
  }
  console.log(`tmpfs of ${sizeMib} MiB at ${mountPoint}`);
  try {
    await run(mountPoint);
  } finally {
    execFileSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
  return checks.length > 0 && checks.every((c) => c.ok) ? 0 : 1;
}

process.exitCode = await main();
