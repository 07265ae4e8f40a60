/**
 * Operations benchmark: the CLI's long jobs on a database of realistic size, run as an operator
 * runs them (the built dist/cli.js, each in its own process).
 *
 *   npx tsx bench/operations.ts                 # 200,000 rows (about a minute)
 *   npx tsx bench/operations.ts --rows 1000000
 *
 * 1. import-original: an original (Flask) v0.3 database of --rows rows, then the same import again
 *    (idempotent: reads and checks everything, writes nothing).
 * 2. backup of the imported database, idle.
 * 3. backup while the service ingests at full speed (autocannon, 50 connections, POST /ingest):
 *    how long it takes, how often concurrent commits restarted it, and what ingest did meanwhile.
 * 4. export of every row as CSV and as JSON lines to a file.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const rowsIndex = args.indexOf('--rows');
const ROWS = rowsIndex >= 0 ? Number(args[rowsIndex + 1]) : 200_000;
const API_KEY = 'bench-admin-key-0123456789';
const INGEST_KEY = 'bench-ingest-key-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-ops-'));
const original = path.join(dir, 'original.sqlite');
const target = path.join(dir, 'usage.sqlite');
const env = { PATH: process.env.PATH ?? '', DB_PATH: target, LOG_LEVEL: 'warn' };

function createOriginal(rows: number): void {
  const db = new Database(original);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE usage_log (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT, model TEXT,
      promptTokens INTEGER, completionTokens INTEGER, totalTokens INTEGER, estimatedCostUSD REAL);
    CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, provider TEXT DEFAULT 'openai',
      enc_key BLOB NOT NULL, active INTEGER NOT NULL DEFAULT 1, last_ok TEXT, created_at TEXT DEFAULT (DATETIME('now')));
    CREATE TABLE ingest_tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, token TEXT NOT NULL UNIQUE,
      active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL DEFAULT (DATETIME('now')), last_seen_at TEXT NULL);
    ALTER TABLE usage_log ADD COLUMN api_key_id INTEGER NULL;
    ALTER TABLE usage_log ADD COLUMN ingest_token_id INTEGER NULL REFERENCES ingest_tokens(id) ON DELETE SET NULL;
    ALTER TABLE usage_log ADD COLUMN source TEXT NOT NULL DEFAULT 'ingest';
    ALTER TABLE usage_log ADD COLUMN event_id TEXT NULL;
    CREATE INDEX idx_usage_ts ON usage_log(timestamp);
    CREATE UNIQUE INDEX idx_usage_event ON usage_log(ingest_token_id, event_id) WHERE event_id IS NOT NULL;`);
  const token = db.prepare('INSERT INTO ingest_tokens (label, token, created_at) VALUES (?, ?, ?)');
  for (let i = 1; i <= 10; i += 1)
    token.run(`app ${i}`, `bench-token-${String(i).padStart(20, '0')}`, '2025-01-01 00:00:00');
  const insert =
    db.prepare(`INSERT INTO usage_log (timestamp, model, promptTokens, completionTokens, totalTokens,
    estimatedCostUSD, ingest_token_id, source, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, 'ingest', ?)`);
  const models = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'o3', 'my-finetune'];
  const start = Date.UTC(2025, 0, 1);
  db.transaction(() => {
    for (let i = 0; i < rows; i += 1) {
      const iso = new Date(start + i * 60_000).toISOString();
      const timestamp = i % 2 === 0 ? iso.replace('.000Z', '+00:00') : iso.replace('.000Z', 'Z');
      const prompt = 100 + (i % 2000);
      const completion = i % 700;
      insert.run(
        timestamp,
        models[i % models.length],
        prompt,
        completion,
        prompt + completion,
        (prompt * 0.15 + completion * 0.6) / 1e6,
        1 + (i % 10),
        `chatcmpl-${i}`,
      );
    }
  })();
  db.close();
}

function timed(argv: string[]): { seconds: number; stderr: string; stdout: string } {
  const started = performance.now();
  let stdout = '';
  let stderr = '';
  try {
    stdout = execFileSync(process.execPath, ['dist/cli.js', ...argv], {
      cwd: root,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const failed = error as { status: number; stdout: string; stderr: string };
    if (failed.status !== 7) throw error;
    stdout = failed.stdout;
    stderr = failed.stderr;
  }
  return { seconds: (performance.now() - started) / 1000, stdout, stderr };
}

async function backupUnderLoad(): Promise<void> {
  const server: ChildProcess = spawn(process.execPath, ['dist/cli.js', 'serve'], {
    cwd: root,
    env: {
      ...env,
      API_KEY,
      INGEST_KEY,
      SERVER_PORT: '5391',
      RATE_LIMIT_RPM: '1000000000',
      REQUEST_LOG_SAMPLE_RATE: '0',
    },
    stdio: 'ignore',
  });
  try {
    for (let i = 0; ; i += 1) {
      if (
        await fetch('http://127.0.0.1:5391/health').then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      if (i > 200) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    let n = 0;
    const load = autocannon(
      {
        url: 'http://127.0.0.1:5391/ingest',
        method: 'POST',
        connections: 50,
        duration: 600,
        headers: { 'content-type': 'application/json', 'x-ingest-key': INGEST_KEY },
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              body: JSON.stringify({
                tracking_token: `bench-token-${String(1 + (n % 10)).padStart(20, '0')}`,
                model: 'gpt-4o-mini',
                prompt_tokens: 100,
                completion_tokens: n++ % 50,
              }),
            }),
          },
        ],
      },
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const before = n;
    const file = path.join(dir, 'backup-under-load.sqlite');
    const started = performance.now();
    const backup = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['dist/cli.js', 'backup', file], {
        cwd: root,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk) => {
        stderr += chunk;
      });
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    const seconds = (performance.now() - started) / 1000;
    const during = n - before;
    load.stop();
    console.log(
      `backup while ingesting: ${seconds.toFixed(2)} s, exit ${backup.code}; ${backup.stderr.trim()}`,
    );
    console.log(
      `  ingest requests sent: ${Math.round(before / 2)}/s in the 2 s before the backup, ${Math.round(during / seconds)}/s during it`,
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
);
execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
try {
  let started = performance.now();
  createOriginal(ROWS);
  console.log(
    `original database: ${ROWS} rows, ${(statSync(original).size / 2 ** 20).toFixed(1)} MiB (built in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );

  const first = timed(['import-original', original, '--json']);
  const report = JSON.parse(first.stdout);
  console.log(
    `import-original: ${first.seconds.toFixed(2)} s, ${Math.round(ROWS / first.seconds)} rows/s (imported ${report.usage.imported})`,
  );
  const second = timed(['import-original', original, '--json']);
  console.log(
    `import-original again: ${second.seconds.toFixed(2)} s (imported ${JSON.parse(second.stdout).usage.imported})`,
  );

  const idle = timed(['backup', path.join(dir, 'backup-idle.sqlite')]);
  console.log(
    `backup, idle: ${idle.seconds.toFixed(2)} s, ${(statSync(path.join(dir, 'backup-idle.sqlite')).size / 2 ** 20).toFixed(1)} MiB`,
  );
  await backupUnderLoad();

  for (const format of ['csv', 'jsonl']) {
    const file = path.join(dir, `export.${format}`);
    started = performance.now();
    timed(['export', '-o', file]);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `export ${format}: ${seconds.toFixed(2)} s, ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
