/**
 * Server CPU per ingested record: starts a built service (dist/main.js) on a fresh SQLite file,
 * loads POST /ingest with autocannon (100 connections), and reads the server process's own CPU
 * time from /proc around the run. CPU per request moves much less than requests per second when
 * other work shares the machine, so it is the figure to compare two builds with.
 *
 *   npm run build && npx tsx bench/ingest-cpu.ts                  # this checkout
 *   npx tsx bench/ingest-cpu.ts /path/to/other/checkout           # another build (run its `npm run build`)
 *   npx tsx bench/ingest-cpu.ts --duration 20
 *
 * Linux only (/proc).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const args = process.argv.slice(2);
const durationIndex = args.indexOf('--duration');
const durationSeconds = durationIndex >= 0 ? Number(args[durationIndex + 1]) : 10;
const root =
  args.find((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--duration') ??
  fileURLToPath(new URL('..', import.meta.url));

const API_KEY = 'bench-admin-key-0123456789';
const INGEST_KEY = 'bench-ingest-key-0123456789';
const TICKS_PER_SECOND = 100;

function cpuMicros(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
}

const dir = mkdtempSync(path.join(tmpdir(), 'cg-ingest-cpu-'));
const port = '5903';
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
                    event_id: `chatcmpl-${counter}`,
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
  await load(3);
  const pid = server.pid as number;
  const before = cpuMicros(pid);
  const result = await load(durationSeconds);
  const used = cpuMicros(pid) - before;
  console.log(
    `${root}: ${result.requests.average.toFixed(0)} req/s, server CPU ${(used / result.requests.total).toFixed(1)} us/request, non-2xx ${result.non2xx}`,
  );
} finally {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
}
