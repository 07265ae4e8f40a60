import type Database from 'better-sqlite3';
import { StoreFullError, StoreLockedError, type WriteState } from '../store.js';

/** The first retry after the write lock was found held, and the longest pause between retries. */
const LOCK_RETRY_FIRST_MS = 2;
const LOCK_RETRY_MAX_MS = 50;
const DEFAULT_LOCK_WAIT_MS = 2000;

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
  /**
   * How long a job may wait for the write lock while another connection or process holds it,
   * before it is rejected with StoreLockedError (nothing of it written). Default 2000.
   */
  lockWaitMs?: number;
  /** Called each time the write path's state changes (see `state`). */
  onStateChange?: (state: WriteState) => void;
}

interface Job {
  work: () => unknown;
  weight: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** What the job returned, or threw, once its transaction ran. */
  result?: unknown;
  error?: unknown;
  /** When the job stops waiting for the write lock (performance.now() ms); 0 until it first meets the lock. */
  deadline: number;
}

/**
 * What an error says about the database as a whole rather than about one job: its write lock is
 * held by another connection, or its disk is full. Both roll back the whole transaction.
 */
export function storeFault(error: unknown): 'locked' | 'full' | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_')) return 'locked';
  // SHMSIZE: the WAL index could not grow, which on a full file system is the first thing to fail.
  if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_SHMSIZE') return 'full';
  return undefined;
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
 *
 * The event loop never waits for a lock. The connection's busy timeout is set to 0 and every
 * transaction starts with BEGIN IMMEDIATE, so a write lock held by another connection or process
 * fails at once, before any job ran; the jobs go back to the head of the queue and the batch is
 * tried again on a timer (backing off to LOCK_RETRY_MAX_MS). A job still waiting `lockWaitMs`
 * after it first met the lock is rejected with StoreLockedError. A full disk rolls the whole
 * transaction back and rejects its jobs with StoreFullError; the next batch simply tries again.
 * Either way nothing of a rejected job was written, and nothing is answered before it is durable.
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
  private readonly lockWaitMs: number;
  private readonly onStateChange: ((state: WriteState) => void) | undefined;
  private readonly db: Database.Database;
  /** The pause before the next try while the write lock is held elsewhere; 0 when not waiting. */
  private lockRetryMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** When a try first found the write lock held, in the current run of such tries. */
  private lockedSince: number | undefined;
  private writeState: 'ok' | 'locked' | 'full' = 'ok';

  constructor(db: Database.Database, options: WriteQueueOptions = {}) {
    const { beforeCommit } = options;
    this.db = db;
    this.maxWeight = options.maxWeight ?? 500;
    this.onBatch = options.onBatch;
    this.onRollback = options.onRollback;
    this.sync = options.sync;
    this.onSync = options.onSync;
    this.lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
    this.onStateChange = options.onStateChange;
    // SQLite's busy handler sleeps on the calling thread: here that is the event loop.
    db.pragma('busy_timeout = 0');
    this.runJob = db.transaction((job: Job) => job.work());
    this.runBatch = db.transaction((jobs: Job[]) => {
      for (const job of jobs) {
        try {
          const result = this.runJob(job);
          job.result = result;
        } catch (error) {
          // A full disk or a lost lock is the transaction's failure, not this job's.
          if (storeFault(error)) throw error;
          job.error = error ?? new Error('write failed');
        }
      }
      beforeCommit?.();
    }).immediate;
    this.runBatchFast = db.transaction((jobs: Job[]) => {
      for (const job of jobs) job.result = job.work();
      beforeCommit?.();
    }).immediate;
  }

  /** Queue `work` (synchronous SQL) to run in the next group commit; resolves once durable. */
  enqueue<T>(work: () => T, weight = 1): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    if (this.syncFailure) return Promise.reject(this.syncFailure);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, weight, resolve: resolve as (value: unknown) => void, reject, deadline: 0 });
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

  /**
   * 'locked' once the write lock has been held by another connection for `lockWaitMs` (writes are
   * being refused), until a try finds it free (a shorter wait is not worth reporting: another
   * process's transactions hold it for milliseconds); 'full' from a transaction that failed for
   * lack of disk space until one commits (or `clearFull`); 'failed' for good after a failed sync.
   */
  get state(): WriteState {
    return this.syncFailure ? 'failed' : this.writeState;
  }

  /**
   * Whether the write lock is free right now: BEGIN IMMEDIATE and ROLLBACK, which fail at once
   * instead of waiting. Updates `state` (a lock held for `lockWaitMs` is 'locked'), and a free lock
   * ends a retry pause at once.
   */
  probeLock(): boolean {
    if (this.closed || this.syncFailure || this.db.inTransaction) return this.state !== 'locked';
    try {
      this.db.exec('BEGIN IMMEDIATE');
      this.db.exec('ROLLBACK');
    } catch (error) {
      if (storeFault(error) !== 'locked') throw error;
      const now = performance.now();
      this.lockedSince ??= now;
      if (now - this.lockedSince >= this.lockWaitMs) this.setState('locked');
      return false;
    }
    this.lockedSince = undefined;
    if (this.writeState === 'locked') this.setState('ok');
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.schedule();
    }
    return true;
  }

  /** Leaves the 'full' state without a commit (the caller saw free space grow). */
  clearFull(): void {
    if (this.writeState === 'full') this.setState('ok');
  }

  private setState(state: 'ok' | 'locked' | 'full'): void {
    if (this.writeState === state || this.syncFailure) return;
    this.writeState = state;
    this.onStateChange?.(state);
  }

  private flush(): void {
    this.scheduled = false;
    this.retryTimer = undefined;
    if (this.syncFailure) {
      for (const job of this.pending.splice(0)) job.reject(this.syncFailure);
      this.pendingWeight = 0;
      this.notifyIdle();
      return;
    }
    // While a sync runs, writes gather for the next transaction (their answers would wait for the
    // next sync anyway, and a bigger transaction costs less per record), unless they fill one.
    if (this.syncing && this.pendingWeight < this.maxWeight) return;
    if (this.lockRetryMs > 0) this.rejectExpired(performance.now());
    if (this.pending.length === 0) {
      this.notifyIdle();
      return;
    }
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
    const started = performance.now();
    let failure: { error: unknown } | undefined;
    try {
      this.runBatchFast(jobs);
    } catch (error) {
      this.discard(jobs);
      if (storeFault(error)) failure = { error };
      else {
        try {
          this.runBatch(jobs);
        } catch (slowError) {
          this.discard(jobs);
          failure = { error: slowError };
        }
      }
    }
    if (failure) {
      const fault = storeFault(failure.error);
      if (fault === 'locked') {
        this.waitForLock(jobs, weight);
        return;
      }
      if (fault === 'full') this.setState('full');
      const rejection = fault === 'full' ? new StoreFullError({ cause: failure.error }) : failure.error;
      for (const job of jobs) job.reject(rejection);
      if (this.pending.length > 0) this.schedule();
      this.notifyIdle();
      return;
    }
    this.lockRetryMs = 0;
    this.lockedSince = undefined;
    this.setState('ok');
    if (this.pending.length > 0) this.schedule();
    this.onBatch?.(weight, performance.now() - started);
    for (const job of jobs) {
      if (job.error !== undefined) job.reject(job.error);
      else if (this.sync) this.unsynced.push(job);
      else job.resolve(job.result);
    }
    if (this.sync && !this.syncing && this.unsynced.length > 0) this.startSync(this.sync);
    this.notifyIdle();
  }

  /** A rolled-back transaction: forget what its jobs returned and what they staged in memory. */
  private discard(jobs: Job[]): void {
    this.onRollback?.();
    for (const job of jobs) {
      delete job.result;
      delete job.error;
    }
  }

  /**
   * The write lock is held elsewhere and nothing of `jobs` was written: they go back to the head
   * of the queue, in order, and the queue tries again after a pause that doubles each time.
   */
  private waitForLock(jobs: Job[], weight: number): void {
    const now = performance.now();
    this.pending = jobs.concat(this.pending);
    this.pendingWeight += weight;
    for (const job of this.pending) if (job.deadline === 0) job.deadline = now + this.lockWaitMs;
    this.lockedSince ??= now;
    this.rejectExpired(now);
    this.lockRetryMs = Math.min(LOCK_RETRY_MAX_MS, Math.max(LOCK_RETRY_FIRST_MS, this.lockRetryMs * 2));
    if (this.pending.length > 0) this.retryTimer = setTimeout(() => this.flush(), this.lockRetryMs);
    this.notifyIdle();
  }

  /** Rejects the jobs that have waited for the write lock for `lockWaitMs`: writes are 'locked'. */
  private rejectExpired(now: number): void {
    if (!this.pending.some((job) => job.deadline !== 0 && job.deadline <= now)) return;
    this.setState('locked');
    const waiting: Job[] = [];
    for (const job of this.pending) {
      if (job.deadline !== 0 && job.deadline <= now) {
        this.pendingWeight -= job.weight;
        job.reject(new StoreLockedError(this.lockWaitMs));
      } else waiting.push(job);
    }
    this.pending = waiting;
  }

  private schedule(): void {
    if (this.scheduled || this.retryTimer !== undefined) return;
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
        this.onStateChange?.('failed');
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
    return (
      this.pending.length > 0 ||
      this.scheduled ||
      this.retryTimer !== undefined ||
      this.syncing ||
      this.unsynced.length > 0
    );
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
