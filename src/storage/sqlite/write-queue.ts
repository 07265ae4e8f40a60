import type Database from 'better-sqlite3';

export interface WriteQueueOptions {
  /** Most records (job weights) per transaction. */
  maxWeight?: number;
  /** Called after each group commit with its record count and duration; for metrics. */
  onBatch?: (records: number, durationMs: number) => void;
  /**
   * Runs inside each group-commit transaction after its jobs, for work that is cheaper once per
   * transaction than once per job (e.g. a token's last-seen time).
   */
  beforeCommit?: () => void;
  /** Runs after a transaction rolled back, to discard what its jobs staged. */
  onRollback?: () => void;
  /**
   * Makes every transaction committed so far durable (e.g. fdatasync of the WAL, for a connection
   * with synchronous=NORMAL). Without it, COMMIT itself must be durable (synchronous=FULL).
   */
  sync?: () => Promise<void>;
  /** Called after each sync with its duration; for metrics. */
  onSync?: (durationMs: number) => void;
}

interface Job {
  work: () => unknown;
  weight: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** What the job returned, or threw, once its transaction ran. */
  result?: unknown;
  error?: unknown;
}

/**
 * Group commit. Every write job queued during one event-loop turn runs in one transaction (up to
 * `maxWeight` records), then every job is answered, so one fsync serves many requests. A job that
 * throws is rolled back and rejected alone, the others still commit; a failed COMMIT rejects every
 * job of that transaction.
 *
 * Jobs almost never throw, so a batch first runs without a savepoint per job (they cost about a
 * microsecond per record). If anything in it throws, the whole transaction rolls back, `onRollback`
 * discards what the jobs staged in memory, and the batch runs again with each job in its own
 * savepoint. Jobs must therefore keep their side effects to SQL and to state that `onRollback`
 * resets (and idempotent ones, such as clearing a cache).
 *
 * With a `sync` function (see WriteQueueOptions) the commit itself does not wait for the disk:
 * jobs are answered once a `sync` that started after their COMMIT has finished. One sync runs at a
 * time, off the event loop, and covers every transaction committed before it started, while the
 * next transactions are already being written.
 */
export class WriteQueue {
  private pending: Job[] = [];
  private pendingWeight = 0;
  private scheduled = false;
  private closed = false;
  private readonly runJob: (job: Job) => unknown;
  private readonly runBatch: (jobs: Job[]) => void;
  private readonly runBatchFast: (jobs: Job[]) => void;
  private idleWaiters: (() => void)[] = [];
  /** Committed jobs waiting for the next sync, and whether one is running. */
  private unsynced: Job[] = [];
  private syncing = false;
  /** Set once a sync has failed: what was acknowledged as written may not be on disk. */
  private syncFailure: Error | undefined;
  private readonly maxWeight: number;
  private readonly onBatch: ((records: number, durationMs: number) => void) | undefined;
  private readonly onRollback: (() => void) | undefined;
  private readonly sync: (() => Promise<void>) | undefined;
  private readonly onSync: ((durationMs: number) => void) | undefined;

  constructor(db: Database.Database, options: WriteQueueOptions = {}) {
    const { beforeCommit } = options;
    this.maxWeight = options.maxWeight ?? 500;
    this.onBatch = options.onBatch;
    this.onRollback = options.onRollback;
    this.sync = options.sync;
    this.onSync = options.onSync;
    this.runJob = db.transaction((job: Job) => job.work());
    this.runBatch = db.transaction((jobs: Job[]) => {
      for (const job of jobs) {
        try {
          const result = this.runJob(job);
          job.result = result;
        } catch (error) {
          job.error = error ?? new Error('write failed');
        }
      }
      beforeCommit?.();
    });
    this.runBatchFast = db.transaction((jobs: Job[]) => {
      for (const job of jobs) job.result = job.work();
      beforeCommit?.();
    });
  }

  /** Queue `work` (synchronous SQL) to run in the next group commit; resolves once durable. */
  enqueue<T>(work: () => T, weight = 1): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    if (this.syncFailure) return Promise.reject(this.syncFailure);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, weight, resolve: resolve as (value: unknown) => void, reject });
      this.pendingWeight += weight;
      this.schedule();
    });
  }

  get size(): number {
    return this.pending.length;
  }

  /** Why writes are refused for good (a failed sync), if they are. */
  get failure(): Error | undefined {
    return this.syncFailure;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.syncFailure) {
      for (const job of this.pending.splice(0)) job.reject(this.syncFailure);
      this.pendingWeight = 0;
      this.notifyIdle();
      return;
    }
    // While a sync runs, writes gather for the next transaction (their answers would wait for the
    // next sync anyway, and a bigger transaction costs less per record), unless they fill one.
    if (this.syncing && this.pendingWeight < this.maxWeight) return;
    let weight = 0;
    let count = 0;
    while (
      count < this.pending.length &&
      (count === 0 || weight + (this.pending[count]?.weight ?? 0) <= this.maxWeight)
    ) {
      weight += this.pending[count]?.weight ?? 0;
      count += 1;
    }
    const jobs = this.pending.splice(0, count);
    this.pendingWeight -= weight;
    if (this.pending.length > 0) this.schedule();
    const started = performance.now();
    try {
      this.runBatchFast(jobs);
    } catch {
      this.onRollback?.();
      for (const job of jobs) delete job.result;
      try {
        this.runBatch(jobs);
      } catch (error) {
        this.onRollback?.();
        for (const job of jobs) job.reject(error);
        this.notifyIdle();
        return;
      }
    }
    this.onBatch?.(weight, performance.now() - started);
    for (const job of jobs) {
      if (job.error !== undefined) job.reject(job.error);
      else if (this.sync) this.unsynced.push(job);
      else job.resolve(job.result);
    }
    if (this.sync && !this.syncing && this.unsynced.length > 0) this.startSync(this.sync);
    this.notifyIdle();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private startSync(sync: () => Promise<void>): void {
    const jobs = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    const started = performance.now();
    sync().then(
      () => {
        this.onSync?.(performance.now() - started);
        for (const job of jobs) job.resolve(job.result);
        this.afterSync(sync);
      },
      (error: unknown) => {
        // After a failed fsync the kernel may have dropped the unwritten pages and a retry can
        // report success: nothing written since can be called durable, so writing stops here.
        this.syncFailure = new Error('the database could not be synced to disk', { cause: error });
        for (const job of jobs) job.reject(this.syncFailure);
        this.afterSync(sync);
      },
    );
  }

  private afterSync(sync: () => Promise<void>): void {
    this.syncing = false;
    if (this.syncFailure) {
      for (const job of this.unsynced) job.reject(this.syncFailure);
      this.unsynced = [];
    }
    // What gathered during the sync is committed now (flush starts the next sync), or at least synced.
    if (this.pending.length > 0) this.schedule();
    else if (this.unsynced.length > 0) this.startSync(sync);
    this.notifyIdle();
  }

  /** Jobs are queued, or committed and waiting for their sync. */
  private get busy(): boolean {
    return this.pending.length > 0 || this.scheduled || this.syncing || this.unsynced.length > 0;
  }

  private notifyIdle(): void {
    if (this.busy) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolves when every queued job has been committed (and synced); refuses new jobs afterwards. */
  async drainAndClose(): Promise<void> {
    if (this.busy) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    this.closed = true;
  }
}
