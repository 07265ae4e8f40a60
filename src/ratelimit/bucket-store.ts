/**
 * Token buckets: a bucket holds up to `capacity` tokens and refills at `refillPerMinute`; a request
 * takes one token and is refused when the bucket has less than one. A bucket that was never seen
 * starts full, so forgetting an idle, full bucket changes nothing; stores rely on that to evict.
 */
export interface BucketLimits {
  capacity: number;
  refillPerMinute: number;
}

export interface BucketDecision {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  limit: number;
  /** When refused: milliseconds until the next token is available. */
  retryAfterMs: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

/** `takeUpTo`'s answer: `granted` tokens were taken; `allowed` is true when all were. */
export interface BucketGrant extends BucketDecision {
  granted: number;
}

/**
 * Contract for every store (memory, Redis):
 * - `take` is atomic per key: concurrent takes never spend the same token twice.
 * - A refused take spends nothing.
 * - `takeUpTo(n)` gives exactly what n takes of one in a row would (the first refused one ends
 *   it, and its decision is the one returned), in one atomic step, so a batch of records costs
 *   one round trip to a shared store, not one per record.
 * - `peek` reports without spending.
 * - `nowMs` is the caller's clock. A shared store may keep time by its own clock instead (the
 *   Redis store uses the Redis server's, so instances with skewed clocks share one bucket
 *   correctly); a store must use one clock for a key, never mix them.
 * - Memory (or keys) must stay bounded whatever keys clients send: idle buckets expire.
 * - A store must never hang a request: an unreachable backend answers by a documented fallback
 *   within a bounded time.
 */
export interface BucketStore {
  take(key: string, limits: BucketLimits, nowMs: number): Promise<BucketDecision>;
  takeUpTo(key: string, limits: BucketLimits, nowMs: number, count: number): Promise<BucketGrant>;
  peek(key: string, limits: BucketLimits, nowMs: number): Promise<BucketDecision>;
  close(): Promise<void>;
}

/** Key prefix of the failed-key budgets (http/hooks/auth.ts); stores never fail these open. */
export const AUTH_FAILURE_KEY_PREFIX = 'authfail:';
