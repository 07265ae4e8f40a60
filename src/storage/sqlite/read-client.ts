import type { Worker } from 'node:worker_threads';
import type { ExportFormat } from '../../lib/usage-export.js';
import {
  type ModelUsage,
  QueryTimeoutError,
  type StoreStats,
  type TagKeyUsage,
  type TokenSummary,
  type UsageCursor,
  type UsageFilter,
  type UsagePage,
} from '../store.js';
import type { UsageAggregateQuery, UsageAggregateResult } from '../usage-aggregate.js';
import type { ReadRequest, ReadResponse } from './read-protocol.js';
import { startWorker } from './start-worker.js';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
type Call = DistributiveOmit<ReadRequest, 'id'>;

const READ_WORKER_YOUNG_GENERATION_MB = 64;
/** Export rows per message: smaller chunks keep less text in flight in both threads. */
const EXPORT_ROWS_PER_MESSAGE = 500;

export interface ReadClientOptions {
  /** Called when the worker answers, with the operation and the time since it was asked; for metrics. */
  onRead?: ((operation: string, durationMs: number) => void) | undefined;
  /**
   * A call not answered within this time is abandoned: the worker is stopped (better-sqlite3 cannot
   * interrupt a statement), every call waiting on it is refused with QueryTimeoutError, and the
   * next call starts a new worker.
   */
  timeoutMs?: number | undefined;
}

/** The main thread's handle on a read worker: request/response over postMessage. */
export class ReadClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;

  private readonly onRead: ((operation: string, durationMs: number) => void) | undefined;
  private readonly timeoutMs: number | undefined;

  constructor(
    private readonly dbPath: string,
    options: ReadClientOptions = {},
  ) {
    this.onRead = options.onRead;
    this.timeoutMs = options.timeoutMs;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // Exports turn every row into short-lived objects and text: with the default young generation
    // a large share of them survive a scavenge, and GC takes as long as the query (docs/adr/004-read-workers.md,
    // export: ~170k rows/s with the default, ~250k with this).
    const worker = startWorker(
      'read-worker',
      { dbPath: this.dbPath },
      { maxYoungGenerationSizeMb: READ_WORKER_YOUNG_GENERATION_MB },
    );
    worker.on('message', (response: ReadResponse) => {
      const waiter = this.pending.get(response.id);
      if (!waiter) return;
      this.pending.delete(response.id);
      if (this.pending.size === 0) worker.unref();
      if (response.ok) waiter.resolve(response.result);
      else waiter.reject(new Error(`read worker: ${response.error}`));
    });
    const fail = (error: Error) => this.drop(worker, error);
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`read worker exited with code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private call<T>(request: Call): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    // An idle worker must not keep the process alive, but a pending read must: otherwise a
    // process with nothing else to do (a CLI command) exits before the answer arrives.
    if (this.pending.size === 0) worker.ref();
    const started = performance.now();
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...request, id });
    });
    if (this.timeoutMs !== undefined) {
      const timeoutMs = this.timeoutMs;
      const timer = setTimeout(() => {
        if (this.pending.has(id)) this.abandon(worker, new QueryTimeoutError(timeoutMs));
      }, timeoutMs);
      timer.unref();
      const clear = () => clearTimeout(timer);
      answer.then(clear, clear);
    }
    if (!this.onRead) return answer;
    const onRead = this.onRead;
    return answer.finally(() => onRead(request.op, performance.now() - started));
  }

  /** Forgets a failed worker and refuses every call waiting on it; the next call starts another. */
  private drop(worker: Worker, error: Error): void {
    // A worker abandoned after a timeout exits later: its successor's calls are not its own.
    if (this.worker !== undefined && this.worker !== worker) return;
    this.worker = undefined;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  /** Stops a worker that is stuck in a statement, refusing whatever waits on it. */
  private abandon(worker: Worker, error: Error): void {
    this.drop(worker, error);
    void worker.terminate();
  }

  ping(): Promise<unknown> {
    return this.call({ op: 'ping' });
  }

  listUsage(filter: UsageFilter, limit: number, after?: UsageCursor): Promise<UsagePage> {
    return this.call({ op: 'listUsage', filter, limit, ...(after ? { after } : {}) });
  }

  listModels(): Promise<string[]> {
    return this.call({ op: 'listModels' });
  }

  listModelUsage(): Promise<ModelUsage[]> {
    return this.call({ op: 'listModelUsage' });
  }

  listTokens(): Promise<TokenSummary[]> {
    return this.call({ op: 'listTokens' });
  }

  stats(nowMs: number): Promise<StoreStats> {
    return this.call({ op: 'stats', nowMs });
  }

  aggregateUsage(query: UsageAggregateQuery): Promise<UsageAggregateResult> {
    return this.call({ op: 'aggregateUsage', query });
  }

  listTagValues(valuesPerKey: number): Promise<TagKeyUsage[]> {
    return this.call({ op: 'listTagValues', valuesPerKey });
  }

  /**
   * Streams an export chunk by chunk, keeping one chunk in flight ahead of the consumer. Throws,
   * never ends early, if the export fails midway, also when its worker stops (a timeout, a crash):
   * the consumer must not mistake a cut export for a whole one.
   */
  async *exportUsage(
    filter: UsageFilter,
    format: ExportFormat,
    chunkRows = EXPORT_ROWS_PER_MESSAGE,
  ): AsyncGenerator<string> {
    const exportId = await this.call<number>({ op: 'exportOpen', filter, format, chunkRows });
    const worker = this.worker;
    const pull = () => {
      const chunk =
        this.worker === worker
          ? this.call<string | null>({ op: 'exportNext', exportId })
          : Promise.reject(new Error('read worker stopped during an export'));
      // The chunk in flight may fail while the consumer is still busy with the previous one (a
      // slow client): it is awaited later, so mark it handled now, or the process would see an
      // unhandled rejection and exit.
      chunk.catch(() => undefined);
      return chunk;
    };
    let finished = false;
    let next = pull();
    try {
      while (true) {
        const chunk = await next;
        if (chunk === null) {
          finished = true;
          return;
        }
        next = pull();
        yield chunk;
      }
    } finally {
      if (!finished && !this.closed && this.worker === worker)
        await this.call({ op: 'exportClose', exportId }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    worker.ref();
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ op: 'close' });
      setTimeout(() => void worker.terminate().then(() => resolve()), 2000).unref();
    });
  }
}
