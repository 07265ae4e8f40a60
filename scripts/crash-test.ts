/**
 * Crash test: runs the real service as a child process, drives ingest load from clients that
 * retry until they get an answer (with the same event_id, as the README's client does), SIGKILLs
 * the service at random moments and restarts it, then checks the database against what the
 * clients were told:
 *
 *   acknowledged  records answered 201 (or 200 duplicate, or created/duplicate in a batch)
 *   stored        usage rows in the database
 *   lost          acknowledged but not stored                          (must be 0)
 *   duplicated    event_ids stored more than once                      (must be 0)
 *
 * plus SQLite's integrity check and the rollups against the raw rows.
 *
 *   npm run crash -- --kills 25                 # 25 kills (the default), 16 clients
 *   npm run crash -- --kills 5 --clients 4 --seed 7
 *
 * Exits 1 when anything is lost or duplicated. test/reliability/crash.test.ts runs a short
 * variant; docs/reliability.md has the figures of a full run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const API_KEY = 'crash-admin-key-0123456789abcdef';
const INGEST_KEY = 'crash-ingest-key-0123456789abcdef';

export interface CrashTestOptions {
  kills: number;
  /** Concurrent clients, each with one request in flight. */
  clients: number;
  /** Share of requests that are /ingest/batch (of `batchSize` records) rather than /ingest. */
  batchShare: number;
  batchSize: number;
  /** A kill comes this long after the service said it listens: uniform in [min, max]. */
  minUpMs: number;
  maxUpMs: number;
  seed: number;
  /** Progress lines; default none. */
  log?: (line: string) => void;
}

export interface CrashTestResult {
  kills: number;
  requests: number;
  /** Requests that failed (connection refused or reset, 5xx) and were sent again. */
  retries: number;
  /** Of those, requests cut off by a kill after they reached the service (not refused outright). */
  interrupted: number;
  /** Records first answered as duplicates: stored by a request whose answer the kill cut off. */
  answeredDuplicate: number;
  acknowledged: number;
  stored: number;
  lost: number;
  duplicated: number;
  /** Stored but never acknowledged: none, since every client retries until answered. */
  unacknowledgedStored: number;
  integrity: string;
  rollupsMatch: boolean;
  seconds: number;
}

export const DEFAULT_OPTIONS: CrashTestOptions = {
  kills: 25,
  clients: 16,
  batchShare: 0.2,
  batchSize: 10,
  minUpMs: 300,
  maxUpMs: 2000,
  seed: 1,
};

/** A small seeded generator (mulberry32), so that a run can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Service {
  child: ChildProcess;
  exited: Promise<void>;
  /** Resolves with the base URL once the service listens (never, if it is killed first). */
  listening: Promise<string>;
}

function startService(env: Record<string, string>): Service {
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`service did not listen within 60 s:\n${output}`)),
      60_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL')
        reject(new Error(`service exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  listening.catch(() => {});
  return { child, exited, listening };
}

export async function runCrashTest(input: Partial<CrashTestOptions> = {}): Promise<CrashTestResult> {
  const options = { ...DEFAULT_OPTIONS, ...input };
  const log = options.log ?? (() => {});
  const next = random(options.seed);
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-crash-'));
  const dbPath = path.join(dir, 'usage.sqlite');
  const env = {
    ENV: 'production',
    API_KEY,
    INGEST_KEY,
    DB_PATH: dbPath,
    HOST: '127.0.0.1',
    SERVER_PORT: '0',
    // The listen line is at info; the access log of successful requests is off.
    LOG_LEVEL: 'info',
    REQUEST_LOG_SAMPLE_RATE: '0',
    RATE_LIMIT_RPM: '1000000000',
  };
  const started = performance.now();

  let service = startService(env);
  let baseUrl = await service.listening;
  const tokenResponse = await fetch(`${baseUrl}/ingest/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ label: 'crash-test' }),
  });
  if (tokenResponse.status !== 201)
    throw new Error(`token: ${tokenResponse.status} ${await tokenResponse.text()}`);
  const { token } = (await tokenResponse.json()) as { token: string };

  const acknowledged = new Set<string>();
  let requests = 0;
  let retries = 0;
  let interrupted = 0;
  let answeredDuplicate = 0;
  let generating = true;

  /** Sends `eventIds` until the service answers for every one of them. */
  async function deliver(eventIds: string[], asBatch: boolean): Promise<void> {
    const records = eventIds.map((eventId, i) => ({
      tracking_token: token,
      event_id: eventId,
      model: 'gpt-4o-mini',
      prompt_tokens: 100 + i,
      completion_tokens: 20,
    }));
    for (;;) {
      requests += 1;
      try {
        const response = await fetch(asBatch ? `${baseUrl}/ingest/batch` : `${baseUrl}/ingest`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-ingest-key': INGEST_KEY },
          body: JSON.stringify(asBatch ? { records } : records[0]),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await response.json()) as {
          duplicate?: boolean;
          results?: { status: string }[];
        };
        if (!asBatch && (response.status === 201 || response.status === 200)) {
          if (body.duplicate === true) answeredDuplicate += 1;
          for (const eventId of eventIds) acknowledged.add(eventId);
          return;
        }
        if (asBatch && response.status === 200) {
          const statuses = body.results?.map((result) => result.status) ?? [];
          if (
            statuses.length !== eventIds.length ||
            statuses.some((s) => s !== 'created' && s !== 'duplicate')
          )
            throw new Error(`unexpected batch answer: ${JSON.stringify(body)}`);
          answeredDuplicate += statuses.filter((s) => s === 'duplicate').length;
          for (const eventId of eventIds) acknowledged.add(eventId);
          return;
        }
        if (response.status < 500)
          throw new Error(`unexpected answer ${response.status}: ${JSON.stringify(body)}`);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('unexpected')) throw error;
        // Refused, reset or cut off by the kill: send the same records again.
        const code = ((error as { cause?: { code?: unknown } }).cause?.code ?? '') as string;
        if (code !== 'ECONNREFUSED') interrupted += 1;
      }
      retries += 1;
      await sleep(20 + next() * 80);
    }
  }

  async function client(id: number): Promise<void> {
    let sequence = 0;
    while (generating) {
      const asBatch = next() < options.batchShare;
      const count = asBatch ? options.batchSize : 1;
      const eventIds = Array.from({ length: count }, () => {
        sequence += 1;
        return `c${id}-${sequence}`;
      });
      await deliver(eventIds, asBatch);
    }
  }

  const clients = Array.from({ length: options.clients }, (_, id) => client(id));
  try {
    for (let kill = 1; kill <= options.kills; kill += 1) {
      await sleep(options.minUpMs + next() * (options.maxUpMs - options.minUpMs));
      service.child.kill('SIGKILL');
      await service.exited;
      log(`kill ${kill}/${options.kills}: ${acknowledged.size} acknowledged so far`);
      service = startService(env);
      baseUrl = await service.listening;
    }
    // Let every client's records in flight be answered, then stop.
    generating = false;
    await Promise.all(clients);
  } finally {
    generating = false;
    if (service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  }

  const db = new Database(dbPath, { readonly: true });
  try {
    const counts = db
      .prepare('SELECT event_id AS eventId, COUNT(*) AS n FROM usage_log GROUP BY event_id')
      .all() as { eventId: string; n: number }[];
    const storedIds = new Set(counts.map((row) => row.eventId));
    const stored = (db.prepare('SELECT COUNT(*) FROM usage_log').pluck().get() as number) ?? 0;
    const rollupSums = db
      .prepare(
        `SELECT detail, SUM(requests) AS requests FROM usage_rollup_day WHERE dim = '' GROUP BY detail`,
      )
      .all() as { detail: string; requests: number }[];
    return {
      kills: options.kills,
      requests,
      retries,
      interrupted,
      answeredDuplicate,
      acknowledged: acknowledged.size,
      stored,
      lost: [...acknowledged].filter((eventId) => !storedIds.has(eventId)).length,
      duplicated: counts.filter((row) => row.n > 1).length,
      unacknowledgedStored: [...storedIds].filter((eventId) => !acknowledged.has(eventId)).length,
      integrity: db.pragma('integrity_check', { simple: true }) as string,
      rollupsMatch: rollupSums.length > 0 && rollupSums.every((row) => row.requests === stored),
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[]): Partial<CrashTestOptions> {
  const options: Partial<CrashTestOptions> = {};
  const numeric: Record<string, keyof CrashTestOptions> = {
    '--kills': 'kills',
    '--clients': 'clients',
    '--batch-share': 'batchShare',
    '--batch-size': 'batchSize',
    '--min-up-ms': 'minUpMs',
    '--max-up-ms': 'maxUpMs',
    '--seed': 'seed',
  };
  for (let i = 0; i < argv.length; i += 1) {
    const key = numeric[argv[i] ?? ''];
    const value = Number(argv[i + 1]);
    if (!key || !Number.isFinite(value))
      throw new Error(`unknown option or bad value: ${argv[i]} ${argv[i + 1] ?? ''}`);
    (options as Record<string, number>)[key] = value;
    i += 1;
  }
  return options;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const options = { ...DEFAULT_OPTIONS, ...parseArgs(process.argv.slice(2)) };
  console.log(
    `crash test: ${options.kills} SIGKILLs, ${options.clients} clients, ${Math.round(options.batchShare * 100)}% batches of ${options.batchSize}, seed ${options.seed}`,
  );
  const result = await runCrashTest({ ...options, log: (line) => console.log(line) });
  console.log(
    [
      `kills          ${result.kills}`,
      `requests       ${result.requests} (${result.retries} failed and sent again, ${result.interrupted} of them cut off by a kill)`,
      `acknowledged   ${result.acknowledged} (${result.answeredDuplicate} first answered as duplicates: stored by a request the kill cut off)`,
      `stored         ${result.stored}`,
      `lost           ${result.lost}`,
      `duplicated     ${result.duplicated}`,
      `stored, never acknowledged  ${result.unacknowledgedStored}`,
      `integrity      ${result.integrity}`,
      `rollups match  ${result.rollupsMatch ? 'yes' : 'NO'}`,
      `time           ${result.seconds} s`,
    ].join('\n'),
  );
  const ok =
    result.lost === 0 &&
    result.duplicated === 0 &&
    result.unacknowledgedStored === 0 &&
    result.integrity === 'ok' &&
    result.rollupsMatch;
  process.exitCode = ok ? 0 : 1;
}
