import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** What goes on the wire; built by the generators, resolved against a running target. */
export interface WireRequest {
  method: string;
  /** Path and query, already percent-encoded as the client sends it. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export type WireResponse =
  | { answered: true; status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }
  | { answered: false; error: string };

export interface TargetKeys {
  admin: string;
  ingest: string;
  metrics: string;
  /** An origin in ALLOWED_ORIGINS. */
  origin: string;
}

export interface TargetOptions {
  /** Put the database on a 64 MiB tmpfs so that fillDisk() can fill it (root only). */
  smallDisk?: boolean;
  /** Extra environment for the service. */
  env?: Record<string, string>;
}

const key = (prefix: string) => `${prefix}-${randomBytes(24).toString('base64url')}`;

/**
 * The real service (`cost-guardian serve` from the sources) as a child process in production mode,
 * with every key set, on a fresh SQLite file: what the fuzzer attacks. Limits that would answer
 * 429 before a request reaches its handler are raised, so that inputs get deep. It also reads the
 * database (read-only, beside the service, as SQLite allows in WAL mode) to tell whether a request
 * changed stored data, and can hold the write lock or fill the disk to cause faults.
 */
export class FuzzTarget {
  readonly keys: TargetKeys = {
    admin: key('admin'),
    ingest: key('ingest'),
    metrics: key('metrics'),
    origin: 'https://app.example',
  };
  /** Tracking tokens created at start: the generators refer to them by index. */
  tokens: { id: number; token: string }[] = [];
  baseUrl = '';
  readonly dbPath: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly errorLines = new Map<string, string[]>();
  private recentLines: string[] = [];
  private reader: Database.Database | undefined;
  private mounted = false;

  private constructor(
    private readonly dir: string,
    private readonly options: TargetOptions,
  ) {
    this.dbPath = path.join(dir, 'db', 'usage.sqlite');
  }

  static async start(options: TargetOptions = {}): Promise<FuzzTarget> {
    const target = new FuzzTarget(mkdtempSync(path.join(tmpdir(), 'cg-fuzz-')), options);
    mkdirSync(path.dirname(target.dbPath));
    if (options.smallDisk) {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', path.dirname(target.dbPath)]);
      target.mounted = true;
    }
    await target.spawn();
    return target;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  isAlive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How the process ended, with its last log lines; undefined while it runs. */
  exitReport(): string | undefined {
    if (this.isAlive()) return undefined;
    return `the service exited (code ${this.child?.exitCode}, signal ${this.child?.signalCode}); last output:\n${this.recentLines.join('\n')}`;
  }

  private async spawn(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        ENV: 'production',
        HOST: '127.0.0.1',
        SERVER_PORT: '0',
        DB_PATH: this.dbPath,
        API_KEY: this.keys.admin,
        INGEST_KEY: this.keys.ingest,
        METRICS_TOKEN: this.keys.metrics,
        ALLOWED_ORIGINS: this.keys.origin,
        RATE_LIMIT_RPM: '1000000',
        INGEST_RPM: '1000000',
        AUTH_FAILURES_PER_MINUTE: '1000000',
        REQUEST_LOG_SAMPLE_RATE: '0',
        LOG_LEVEL: 'info',
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const listening = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the service did not start in 60 s:\n${this.recentLines.join('\n')}`)),
        60_000,
      );
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`the service exited at start:\n${this.recentLines.join('\n')}`));
      });
      const onLine = (line: string) => {
        this.recentLines = [...this.recentLines.slice(-49), line.slice(0, 2000)];
        const address = /listening on (http:\/\/[\d.]+:\d+)/.exec(line)?.[1];
        if (address) {
          clearTimeout(timer);
          resolve(address);
        }
        // Only errors are kept (4xx are logged at a lower level), by request id.
        if (/"level":(50|60)/.test(line)) {
          const reqId = /"reqId":"([^"]+)"/.exec(line)?.[1] ?? '-';
          this.errorLines.set(reqId, [...(this.errorLines.get(reqId) ?? []), line]);
        }
      };
      if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
      if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
    });
    this.baseUrl = await listening;
    this.reader = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    this.tokens = [];
    for (const label of ['fuzz-a', 'fuzz-b', 'fuzz-c']) {
      const response = await this.send({
        method: 'POST',
        path: '/ingest/tokens',
        headers: { 'content-type': 'application/json', 'x-api-key': this.keys.admin },
        body: Buffer.from(JSON.stringify({ label })),
      });
      if (!response.answered || response.status !== 201)
        throw new Error(`could not create a token: ${JSON.stringify(response)}`);
      this.tokens.push(JSON.parse(response.body.toString()) as { id: number; token: string });
    }
  }

  /** Stops the service and starts a new one on a fresh database (after a hang or a crash). */
  async restart(): Promise<void> {
    await this.stopProcess();
    this.reader?.close();
    const dbDir = path.dirname(this.dbPath);
    if (this.mounted) execFileSync('umount', [dbDir]);
    rmSync(dbDir, { recursive: true, force: true });
    mkdirSync(dbDir, { recursive: true });
    if (this.mounted) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dbDir]);
    this.errorLines.clear();
    await this.spawn();
  }

  /**
   * One request, on the keep-alive connection or (`fresh`) a new one; no answer within `timeoutMs`
   * is a result, not a throw.
   */
  send(wire: WireRequest, timeoutMs = 15_000, fresh = false): Promise<WireResponse> {
    const url = new URL(this.baseUrl);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: WireResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      let req: ReturnType<typeof httpRequest>;
      try {
        req = httpRequest({
          host: url.hostname,
          port: url.port,
          method: wire.method,
          path: wire.path,
          headers: { ...wire.headers, ...(wire.body ? { 'content-length': String(wire.body.length) } : {}) },
          agent: fresh ? false : this.agent,
        });
      } catch (error) {
        // The client refused to send it (an invalid header or path): not a request the server saw.
        resolve({ answered: false, error: `client refused: ${(error as Error).message}` });
        return;
      }
      const timer = setTimeout(() => {
        req.destroy(new Error(`no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= 4 * 1024 * 1024) chunks.push(chunk);
        });
        res.on('end', () =>
          finish({
            answered: true,
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', (error) => finish({ answered: false, error: error.message }));
        // A server-sent event stream never ends: the status and headers are the answer.
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          finish({
            answered: true,
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.alloc(0),
          });
          req.destroy();
        }
      });
      req.on('error', (error) => finish({ answered: false, error: error.message }));
      req.end(wire.body);
    });
  }

  /** Whether /ping answers 200 on a new connection within 5 s. */
  async answersPing(): Promise<boolean> {
    if (!this.isAlive()) return false;
    const response = await this.send({ method: 'GET', path: '/ping', headers: {} }, 5000, true);
    return response.answered && response.status === 200;
  }

  /**
   * The error lines logged for a request id, waiting up to `waitMs` for the first: the service may
   * log a failure just after it answered. Only used to describe a finding.
   */
  async errorsLoggedFor(requestId: string, waitMs: number): Promise<string[]> {
    for (let waited = 0; waited < waitMs && this.errorsFor(requestId).length === 0; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.errorsFor(requestId);
  }

  /** Error log lines (level error or fatal) the service wrote for a request id. */
  errorsFor(requestId: string): string[] {
    return this.errorLines.get(requestId) ?? [];
  }

  /** The service's resident set size, from /proc (Linux). */
  rssBytes(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.child?.pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Changes whenever another connection committed to the database (SQLite's PRAGMA data_version). */
  dataVersion(): number {
    return this.reader?.pragma('data_version', { simple: true }) as number;
  }

  /** A SHA-256 of every row of every table, per table: what "stored data" means here. */
  digest(): Record<string, string> {
    const db = this.reader;
    if (!db) throw new Error('not started');
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .pluck()
      .all() as string[];
    const result: Record<string, string> = {};
    for (const table of tables) {
      const rows = db
        .prepare(`SELECT * FROM "${table.replaceAll('"', '""')}"`)
        .raw()
        .all()
        .map((row) => JSON.stringify(row))
        .sort();
      result[table] = createHash('sha256').update(rows.join('\n')).digest('hex');
    }
    return result;
  }

  /** Takes SQLite's write lock from another connection, as another process would; returns the release. */
  holdWriteLock(): () => void {
    const db = new Database(this.dbPath, { fileMustExist: true });
    db.exec('BEGIN EXCLUSIVE');
    return () => {
      db.exec('ROLLBACK');
      db.close();
    };
  }

  get canFillDisk(): boolean {
    return this.mounted;
  }

  /** Fills the database's file system (the small tmpfs) to the last byte; returns the release. */
  fillDisk(): () => void {
    if (!this.mounted) throw new Error('fillDisk needs smallDisk (root)');
    const filler = path.join(path.dirname(this.dbPath), 'filler');
    const fd = openSync(filler, 'w');
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) writeSync(fd, chunk);
      } catch {}
    }
    closeSync(fd);
    return () => unlinkSync(filler);
  }

  private async stopProcess(): Promise<void> {
    if (this.isAlive()) {
      this.child?.kill('SIGKILL');
    }
    await this.exited;
    this.agent.destroy();
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    this.reader?.close();
    if (this.mounted) {
      try {
        execFileSync('umount', [path.dirname(this.dbPath)]);
      } catch {}
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
