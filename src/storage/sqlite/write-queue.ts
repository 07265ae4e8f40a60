import type Database from 'better-sqlite3';

interface Job {
  work: () => unknown;
  weight: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit. Every write job queued during one event-loop turn runs in one transaction (up to
 * `maxWeight` records), then every job is answered, so one fsync serves many requests. Each job
 * runs inside its own savepoint: a job that throws is rolled back and rejected alone, the others
 * still commit. A failed COMMIT rejects every job of that transaction.
 */
export class WriteQueue {
  private pending: Job[] = [];
  private scheduled = false;
  private closed = false;
  private readonly runJob: (job: Job) => unknown;
  private readonly runBatch: (jobs: Job[]) => void;
  private idleWaiters: (() => void)[] = [];

  /**
   * @param beforeCommit runs inside each group-commit transaction after its jobs, for work that
   *   is cheaper once per transaction than once per job (e.g. a token's last-seen time).
   */
  constructor(
    db: Database.Database,
    private readonly maxWeight = 500,
    private readonly onBatch?: (records: number, durationMs: number) => void,
    beforeCommit?: () => void,
  ) {
    this.runJob = db.transaction((job: Job) => job.work());
    this.runBatch = db.transaction((jobs: Job[]) => {
      for (const job of jobs) {
        try {
          const result = this.runJob(job);
          (job as Job & { result?: unknown }).result = result;
        } catch (error) {
          (job as Job & { error?: unknown }).error = error ?? new Error('write failed');
        }
      }
      beforeCommit?.();
    });
  }

  /** Queue `work` (synchronous SQL) to run in the next group commit; resolves once durable. */
  enqueue<T>(work: () => T, weight = 1): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, weight, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  get size(): number {
    return this.pending.length;
  }

  private flush(): void {
    this.scheduled = false;
    let weight = 0;
    let count = 0;
    while (
      count < this.pending.length &&
      (count === 0 || weight + (this.pending[count]?.weight ?? 0) <= this.maxWeight)
    ) {
      weight += this.pending[count]?.weight ?? 0;
      count += 1;
    }
    const jobs = this.pending.splice(0, count) as (Job & { result?: unknown; error?: unknown })[];
    if (this.pending.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    const started = performance.now();
    try {
      this.runBatch(jobs);
    } catch (error) {
      for (const job of jobs) job.reject(error);
      this.notifyIdle();
      return;
    }
    this.onBatch?.(weight, performance.now() - started);
    for (const job of jobs) {
      if ('error' in job && job.error !== undefined) job.reject(job.error);
      else job.resolve(job.result);
    }
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.pending.length > 0 || this.scheduled) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolves when every queued job has been committed; refuses new jobs afterwards. */
  async drainAndClose(): Promise<void> {
    if (this.pending.length > 0 || this.scheduled) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    this.closed = true;
  }
}
