import { type BackoffOptions, parseRetryAfterMs, retryDelayMs } from './backoff.js';
import type { Scheduler } from './scheduler.js';

/**
 * The queue between the caller's calls and Cost Guardian. Records (already serialised) wait in a
 * bounded in-memory queue and are sent to POST /ingest/batch in batches: when a batch is full, or
 * when the flush interval passes, or on flush(). One request is in flight at a time. A failed
 * request is retried, the whole batch, after an exponential backoff with jitter that never comes
 * sooner than the server's Retry-After. Every record carries an event_id, so a batch that was stored
 * but whose answer was lost is answered "duplicate" the second time: each record is stored once.
 *
 * Contract: enqueue() never throws, never waits and never does I/O on the caller's path; nothing
 * here ever rejects into the caller.
 */

/** What POST /ingest/batch answers per record (src/http/ingest.ts). */
interface BatchItem {
  index: number;
  status: 'created' | 'duplicate' | 'rejected';
  code?: string;
  reason?: string;
}

/**
 * One budget's verdict as the ingest answer will carry it. Arrives with budgets: the server does
 * not send `budgets` yet; the client already reads it so that apps can use it the day it does.
 */
export interface BudgetVerdict {
  id?: string | number;
  name?: string;
  [field: string]: unknown;
}

export type DeliveryEvent =
  | { kind: 'retry'; attempt: number; delayMs: number; status?: number; message: string }
  | { kind: 'recovered'; attempts: number }
  | { kind: 'rejected'; count: number; code: string; reason: string }
  | { kind: 'dropped'; count: number };

export interface DeliveryStats {
  /** Records waiting, including those in the request now in flight. */
  queued: number;
  /** Stored by Cost Guardian (answered created). */
  delivered: number;
  /** Answered duplicate: already stored, e.g. by an earlier attempt whose answer was lost. */
  duplicates: number;
  /** Refused by Cost Guardian for good (unknown token, invalid record); never retried. */
  rejected: number;
  /** Not queued because the queue was full. */
  dropped: number;
  /** Failed delivery attempts that were retried. */
  retries: number;
}

/** Stores records that are not yet acknowledged, so they outlive the process (see node-spool.ts). */
export interface Spool {
  /** Called once per enqueued record, on the caller's path: must only buffer, never block. */
  append(line: string): void;
  /** Called after every answered request with what is still unacknowledged. */
  settle(pending: () => readonly string[]): void;
}

export interface DeliveryOptions {
  /** Cost Guardian's origin, e.g. https://costs.example.com */
  endpoint: string;
  ingestKey: string;
  fetch: typeof fetch;
  scheduler: Scheduler;
  random: () => number;
  maxQueue: number;
  batchSize: number;
  batchBytes: number;
  flushIntervalMs: number;
  requestTimeoutMs: number;
  backoff: BackoffOptions;
  onEvent: (event: DeliveryEvent) => void;
  onBudget?: (budgets: BudgetVerdict[]) => void;
}

export interface FlushResult {
  /** Records still unsent when flush() returned: 0 means everything was answered. */
  pending: number;
}

/** Server limit: POST /ingest/batch takes at most this many records (BATCH_MAX_RECORDS). */
export const SERVER_BATCH_MAX = 1000;

interface Waiter {
  resolve: (result: FlushResult) => void;
  timer: unknown;
}

export class Delivery {
  private queue: string[] = [];
  private inFlight: string[] | null = null;
  private timer: unknown = null;
  private timerDue = Number.POSITIVE_INFINITY;
  private retryAt = 0;
  private attempt = 0;
  /** Lowered after a 413, so that the next batches fit the server's body limit. */
  private batchLimit: number;
  private readonly waiters = new Set<Waiter>();
  private readonly budgets = new Map<string, BudgetVerdict>();
  private spool: Spool | undefined;
  private readonly url: string;
  readonly counts: Omit<DeliveryStats, 'queued'> = {
    delivered: 0,
    duplicates: 0,
    rejected: 0,
    dropped: 0,
    retries: 0,
  };

  constructor(private readonly options: DeliveryOptions) {
    this.url = `${options.endpoint.replace(/\/+$/, '')}/ingest/batch`;
    this.batchLimit = Math.min(SERVER_BATCH_MAX, Math.max(1, options.batchSize));
  }

  attachSpool(spool: Spool): void {
    this.spool = spool;
  }

  /** Queues one serialised record; false when the queue was full and it was dropped. */
  enqueue(line: string): boolean {
    if (this.size() >= this.options.maxQueue) {
      this.counts.dropped += 1;
      this.options.onEvent({ kind: 'dropped', count: 1 });
      return false;
    }
    this.queue.push(line);
    this.spool?.append(line);
    // While a request is in flight or a retry is pending, its end decides what is sent next.
    if (this.inFlight || this.retryAt > 0) return true;
    if (this.queue.length >= this.batchLimit) this.arm(0);
    else if (this.queue.length === 1) this.arm(this.options.flushIntervalMs);
    return true;
  }

  stats(): DeliveryStats {
    return { queued: this.size(), ...this.counts };
  }

  /** The last verdict per budget seen in an ingest answer (arrives with budgets). */
  lastBudgets(): BudgetVerdict[] {
    return [...this.budgets.values()];
  }

  /** True while a request to Cost Guardian is in flight. */
  isSending(): boolean {
    return this.inFlight !== null;
  }

  /** Every record not yet acknowledged, oldest first. */
  pending(): string[] {
    return this.inFlight ? [...this.inFlight, ...this.queue] : [...this.queue];
  }

  /**
   * Sends what is queued now, without waiting for the interval or the current backoff, then keeps
   * retrying on the usual schedule. Resolves when nothing is left or after `timeoutMs`; never rejects.
   */
  flush(timeoutMs: number): Promise<FlushResult> {
    if (this.size() === 0) return Promise.resolve({ pending: 0 });
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: this.options.scheduler.setTimeout(() => {
          this.waiters.delete(waiter);
          resolve({ pending: this.size() });
        }, timeoutMs),
      };
      this.waiters.add(waiter);
      this.retryAt = 0;
      this.arm(0);
    });
  }

  private size(): number {
    return this.queue.length + (this.inFlight?.length ?? 0);
  }

  private arm(delayMs: number): void {
    const due = this.options.scheduler.now() + delayMs;
    if (this.timer !== null && this.timerDue <= due) return;
    if (this.timer !== null) this.options.scheduler.clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = this.options.scheduler.setTimeout(() => {
      this.timer = null;
      this.timerDue = Number.POSITIVE_INFINITY;
      this.pump();
    }, delayMs);
  }

  private pump(): void {
    if (this.inFlight) return;
    if (this.queue.length === 0) {
      this.settleWaiters();
      return;
    }
    const now = this.options.scheduler.now();
    if (now < this.retryAt) {
      this.arm(this.retryAt - now);
      return;
    }
    const batch = this.take();
    this.inFlight = batch;
    void this.send(batch).then((outcome) => this.finish(batch, outcome));
  }

  /** The oldest records that fit in one request by count and by bytes (always at least one). */
  private take(): string[] {
    let bytes = 16;
    let count = 0;
    for (const line of this.queue) {
      if (count >= this.batchLimit) break;
      if (count > 0 && bytes + line.length + 1 > this.options.batchBytes) break;
      bytes += line.length + 1;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  private async send(batch: string[]): Promise<Outcome> {
    let response: Response;
    try {
      response = await this.options.fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ingest-key': this.options.ingestKey },
        body: `{"records":[${batch.join(',')}]}`,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
    } catch (error) {
      return { kind: 'retry', message: errorMessage(error) };
    }
    const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), Date.now());
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      return { kind: 'retry', status: response.status, retryAfterMs, message: errorMessage(error) };
    }
    if (response.status === 200 && isBatchAnswer(body, batch.length)) return { kind: 'answered', body };
    const message = describeError(response.status, body);
    if (response.status === 413) return { kind: 'too_large', message };
    if (response.status === 400) return { kind: 'refused', message };
    return { kind: 'retry', status: response.status, retryAfterMs, message };
  }

  private finish(batch: string[], outcome: Outcome): void {
    this.inFlight = null;
    let retryLines: string[] = [];
    let failure: { status?: number; retryAfterMs?: number; message: string } | undefined;
    switch (outcome.kind) {
      case 'answered': {
        const rejected = new Map<string, { count: number; reason: string }>();
        for (const item of outcome.body.results) {
          if (item.status === 'created') this.counts.delivered += 1;
          else if (item.status === 'duplicate') this.counts.duplicates += 1;
          else if (item.code === 'rate_limited') {
            const line = batch[item.index];
            if (line !== undefined) retryLines.push(line);
          } else {
            this.counts.rejected += 1;
            const code = item.code ?? 'rejected';
            const entry = rejected.get(code) ?? { count: 0, reason: item.reason ?? '' };
            entry.count += 1;
            rejected.set(code, entry);
          }
        }
        for (const [code, { count, reason }] of rejected)
          this.options.onEvent({ kind: 'rejected', count, code, reason });
        if (retryLines.length > 0) failure = { status: 429, message: 'rate limited per tracking token' };
        this.readBudgets(outcome.body);
        break;
      }
      case 'too_large':
        if (batch.length === 1) {
          this.counts.rejected += 1;
          this.options.onEvent({
            kind: 'rejected',
            count: 1,
            code: 'payload_too_large',
            reason: outcome.message,
          });
        } else {
          this.batchLimit = Math.max(1, Math.ceil(batch.length / 2));
          retryLines = batch;
        }
        break;
      case 'refused':
        this.counts.rejected += batch.length;
        this.options.onEvent({
          kind: 'rejected',
          count: batch.length,
          code: 'invalid_request',
          reason: outcome.message,
        });
        break;
      case 'retry':
        retryLines = batch;
        failure = outcome;
        break;
    }
    if (retryLines.length > 0) this.queue.unshift(...retryLines);
    if (failure) {
      this.attempt += 1;
      this.counts.retries += 1;
      const delayMs = retryDelayMs(
        this.attempt,
        this.options.backoff,
        this.options.random(),
        failure.retryAfterMs,
      );
      this.retryAt = this.options.scheduler.now() + delayMs;
      this.options.onEvent({
        kind: 'retry',
        attempt: this.attempt,
        delayMs,
        ...(failure.status === undefined ? {} : { status: failure.status }),
        message: failure.message,
      });
    } else if (this.attempt > 0) {
      this.options.onEvent({ kind: 'recovered', attempts: this.attempt });
      this.attempt = 0;
      this.retryAt = 0;
    }
    this.spool?.settle(() => this.pending());
    if (this.queue.length === 0) this.settleWaiters();
    else if (failure) this.arm(this.retryAt - this.options.scheduler.now());
    else if (this.queue.length >= this.batchLimit || this.waiters.size > 0) this.arm(0);
    else this.arm(this.options.flushIntervalMs);
  }

  private readBudgets(body: { budgets?: unknown }): void {
    if (!Array.isArray(body.budgets)) return;
    const verdicts = body.budgets.filter(
      (b): b is BudgetVerdict => typeof b === 'object' && b !== null && !Array.isArray(b),
    );
    for (const verdict of verdicts) this.budgets.set(String(verdict.id ?? verdict.name ?? ''), verdict);
    if (verdicts.length > 0) this.options.onBudget?.(verdicts);
  }

  private settleWaiters(): void {
    for (const waiter of this.waiters) {
      this.options.scheduler.clearTimeout(waiter.timer);
      waiter.resolve({ pending: 0 });
    }
    this.waiters.clear();
  }
}

type Outcome =
  | { kind: 'answered'; body: { results: BatchItem[]; budgets?: unknown } }
  | { kind: 'too_large'; message: string }
  | { kind: 'refused'; message: string }
  | { kind: 'retry'; status?: number; retryAfterMs?: number | undefined; message: string };

function isBatchAnswer(body: unknown, sent: number): body is { results: BatchItem[]; budgets?: unknown } {
  if (typeof body !== 'object' || body === null) return false;
  const results = (body as { results?: unknown }).results;
  return Array.isArray(results) && results.length === sent;
}

function describeError(status: number, body: unknown): string {
  const message =
    typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string'
      ? (body as { message: string }).message
      : '';
  return `HTTP ${status}${message ? `: ${message}` : ''}`;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
