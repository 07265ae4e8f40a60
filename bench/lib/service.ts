/**
 * What the benchmarks that run the built service in its own process share: starting it on a fresh
 * SQLite file, waiting for it, a tracking token, durable POST /ingest load with unique event ids,
 * and the server's own CPU time from /proc (Linux only).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

export const API_KEY = 'bench-admin-key-0123456789';
export const INGEST_KEY = 'bench-ingest-key-0123456789';
const TICKS_PER_SECOND = 100;

/** User + system CPU time of a process so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
}

export interface BenchService {
  base: string;
  process: ChildProcess;
  pid: number;
  /** A tracking token created through the admin API. */
  token: string;
  stop(): Promise<void>;
}

/**
 * Starts `dist/main.js` of `root` in production mode on a fresh SQLite file, with limits high enough
 * that nothing is refused, waits for /ping and creates a tracking token.
 */
export async function startBenchService(options: {
  root: string;
  port: number;
  env?: Record<string, string>;
}): Promise<BenchService> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-'));
  const base = `http://127.0.0.1:${options.port}`;
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: options.root,
    env: {
      ...process.env,
      ENV: 'production',
      API_KEY,
      INGEST_KEY,
      HOST: '127.0.0.1',
      SERVER_PORT: String(options.port),
      DB_PATH: path.join(dir, 'usage.sqlite'),
      RATE_LIMIT_RPM: '100000000',
      INGEST_RPM: '100000000',
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPing(base);
    const created = await fetch(`${base}/ingest/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ label: 'bench' }),
    });
    const { token } = (await created.json()) as { token: string };
    return { base, process: child, pid: child.pid as number, token, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until GET /ping answers 200 (up to 20 s). */
export async function waitForPing(base: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const up = await fetch(`${base}/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${base} did not answer /ping within 20 s`);
}

/** Durable POST /ingest from 100 connections for `seconds`, each record with its own event id. */
export function ingestLoad(
  service: BenchService,
  seconds: number,
  idPrefix: string,
): Promise<autocannon.Result> {
  let counter = 0;
  return new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(
      {
        url: `${service.base}/ingest`,
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
                  tracking_token: service.token,
                  event_id: `chatcmpl-${idPrefix}-${counter}`,
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
}
