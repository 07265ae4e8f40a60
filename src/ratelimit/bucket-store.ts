/**
 * Token buckets: a bucket holds up to `capacity` tokens and refills at `refillPerMinute`; a request
 * takes one token (or `cost`) and is refused when the bucket has fewer. A bucket that was never seen
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
  /** When refused: milliseconds until `cost` tokens are available. */
  retryAfterMs: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

/**
 * Contract for every store (memory now, Redis later):
 * - `take` is atomic per key: concurrent takes never spend the same token twice.
 * - A refused take spends nothing.
 * - `peek` reports without spending.
 * - Memory (or keys) must stay bounded whatever keys clients send: idle buckets expire.
 */
export interface BucketStore {
  take(key: string, limits: BucketLimits, nowMs: number, cost?: number): Promise<BucketDecision>;
  peek(key: string, limits: BucketLimits, nowMs: number): Promise<BucketDecision>;
  close(): Promise<void>;
}
