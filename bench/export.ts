/**
 * Streams a CSV (and a JSONL) export of every row of a generated database through the real
 * server, built as for production (npm run build, node dist/main.js), and reports rows/s and the
 * server's resident memory (sampled during the export, and the kernel's peak VmHWM).
 *
 *   npx tsx bench/export.ts [--db /tmp/cg-bench-1m.sqlite] [--format csv|jsonl|both] [--rounds 2]
 *
 * Make the database first: npx tsx bench/generate.ts --rows 1000000 --out /tmp/cg-bench-1m.sqlite
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: '/tmp/cg-bench-1m.sqlite' },
    format: { type: 'string', default: 'both' },
    rounds: { type: 'string', default: '2' },
    port: { type: 'string', default: '5072' },
  },
});

const ROOT = path.resolve(import.meta.dirname, '..');
const ADMIN_KEY = 'bench-admin-key-0123456789';
const PORT = Number(values.port);

function memoryKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return Number(match?.[1] ?? 0);
}

async function startServer(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DB_PATH: values.db,
      API_KEY: ADMIN_KEY,
      INGEST_KEY: 'bench-ingest-key-0123456789',
      SERVER_PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_RPM: '1000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let attempt = 0; attempt < 200; attempt += 1) {
    try {
      if ((await fetch(`http://127.0.0.1:${PORT}/ping`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error('server did not start');
}

async function exportOnce(pid: number, format: 'csv' | 'jsonl') {
  let peakRssKb = memoryKb(pid, 'VmRSS');
  const sampler = setInterval(() => {
    peakRssKb = Math.max(peakRssKb, memoryKb(pid, 'VmRSS'));
  }, 25);
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${PORT}/data?format=${format}`, {
    headers: { 'x-api-key': ADMIN_KEY },
  });
  if (!response.ok || !response.body) throw new Error(`export failed: ${response.status}`);
  let bytes = 0;
  let lines = 0;
  for await (const chunk of response.body) {
    const part = chunk as Uint8Array;
    bytes += part.length;
    for (let i = 0; i < part.length; i += 1) if (part[i] === 10) lines += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const rows = format === 'csv' ? lines - 1 : lines;
  return { rows, bytes, seconds, peakRssKb };
}

async function main(): Promise<void> {
  process.stdout.write('building (npm run build)...\n');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const server = await startServer();
  const pid = server.pid ?? 0;
  try {
    const idleRss = memoryKb(pid, 'VmRSS');
    process.stdout.write(`server pid ${pid}, idle RSS ${(idleRss / 1024).toFixed(0)} MB\n`);
    const formats: ('csv' | 'jsonl')[] =
      values.format === 'both' ? ['csv', 'jsonl'] : [values.format as 'csv'];
    for (let round = 0; round < Number(values.rounds); round += 1) {
      for (const format of formats) {
        const result = await exportOnce(pid, format);
        process.stdout.write(
          `${format}: ${result.rows.toLocaleString('en-US')} rows, ${(result.bytes / 1e6).toFixed(0)} MB in ` +
            `${result.seconds.toFixed(2)} s = ${Math.round(result.rows / result.seconds).toLocaleString('en-US')} rows/s; ` +
            `server RSS peak during export ${(result.peakRssKb / 1024).toFixed(0)} MB\n`,
        );
      }
    }
    process.stdout.write(
      `server VmHWM (peak RSS since start) ${(memoryKb(pid, 'VmHWM') / 1024).toFixed(0)} MB\n`,
    );
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
