import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { appendFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CostGuardian } from './cost-guardian.js';
import type { Spool } from './delivery.js';

/**
 * The disk spool: every queued record is also appended to this process's segment file in the
 * spool directory, a few milliseconds later and off the caller's path; the file is rewritten with
 * only the unacknowledged records whenever the queue empties or the file grows past a limit. A
 * process that dies (a crash, SIGKILL, a failed exit flush) leaves its segment behind; the next
 * client started on the same directory and the same Cost Guardian claims it (rename, so two
 * starting processes never both replay it) and queues its records again. Records carry event_ids,
 * so one that had been delivered before the crash is answered "duplicate": still stored once.
 *
 * Segment names: <identity>-<pid>-<startMs>-<random>.jsonl, identity = a hash of the endpoint and
 * ingest key (the key itself is never written). A segment whose pid is alive is never claimed.
 */

/** Rewrite the segment once this much was appended since the last rewrite. */
const COMPACT_BYTES = 4 * 1024 * 1024;
const SEGMENT = /^([0-9a-f]{16})-(\d+)-\d+-[0-9a-f]+\.jsonl(?:\.claimed-(\d+))?$/;

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class FileSpool implements Spool {
  private buffer: string[] = [];
  private rewriteFrom: (() => readonly string[]) | null = null;
  private scheduled = false;
  private bytesSinceRewrite = 0;

  constructor(readonly file: string) {
    writeFileSync(file, '');
    process.on('exit', () => this.writeBufferNow());
  }

  append(line: string): void {
    this.buffer.push(line);
    this.schedule();
  }

  settle(pending: () => readonly string[]): void {
    if (this.bytesSinceRewrite > COMPACT_BYTES || pending().length === 0) {
      this.rewriteFrom = pending;
      this.schedule();
    }
  }

  /** Synchronous: at process exit and when claiming, where nothing async may run after. */
  writeBufferNow(): void {
    if (this.buffer.length === 0) return;
    const text = `${this.buffer.join('\n')}\n`;
    this.buffer = [];
    try {
      appendFileSync(this.file, text);
    } catch {
      // The directory is gone; nothing more can be kept.
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.run());
  }

  /** One write at a time, in order: appends, and rewrites that replace the file atomically. */
  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.rewriteFrom) {
          // Every buffered line is either acknowledged or in the snapshot: both are covered.
          const lines = this.rewriteFrom();
          this.rewriteFrom = null;
          this.buffer = [];
          const text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
          const temp = `${this.file}.tmp`;
          await writeFile(temp, text);
          await rename(temp, this.file);
          this.bytesSinceRewrite = 0;
        } else if (this.buffer.length > 0) {
          const text = `${this.buffer.join('\n')}\n`;
          this.buffer = [];
          await appendFile(this.file, text);
          this.bytesSinceRewrite += text.length;
        } else break;
      }
    } catch (error) {
      console.warn(`cost-guardian: spool write failed: ${(error as Error).message}`);
    } finally {
      this.scheduled = false;
      if (this.buffer.length > 0 || this.rewriteFrom) this.schedule();
    }
  }
}

/** Attaches a spool in `dir` to the client and queues the records of dead processes' segments. */
export function openSpool(guardian: CostGuardian, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const identity = createHash('sha256')
    .update(`${guardian.options.endpoint.replace(/\/+$/, '')}\n${guardian.options.ingestKey}`)
    .digest('hex')
    .slice(0, 16);
  const claimed: string[] = [];
  const lines: string[] = [];
  for (const name of readdirSync(dir)) {
    const match = SEGMENT.exec(name);
    if (!match || match[1] !== identity) continue;
    const owner = Number(match[3] ?? match[2]);
    if (isAlive(owner)) continue;
    const base = name.replace(/\.claimed-\d+$/, '');
    const target = path.join(dir, `${base}.claimed-${process.pid}`);
    try {
      renameSync(path.join(dir, name), target);
    } catch {
      continue; // another process claimed it first
    }
    claimed.push(target);
    for (const line of readFileSync(target, 'utf8').split('\n')) if (line.trim() !== '') lines.push(line);
  }
  const spool = new FileSpool(
    path.join(dir, `${identity}-${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}.jsonl`),
  );
  guardian.delivery.attachSpool(spool);
  for (const line of lines) guardian.delivery.enqueue(line);
  spool.writeBufferNow();
  for (const file of claimed) unlinkSync(file);
}
