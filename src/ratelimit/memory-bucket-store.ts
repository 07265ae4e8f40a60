import type { BucketDecision, BucketGrant, BucketLimits, BucketStore } from './bucket-store.js';

interface Bucket {
  tokens: number;
  updatedMs: number;
  fullAtMs: number;
}

/**
 * In-process buckets. Entries are kept in a Map in least-recently-used order; a bucket is dropped
 * once it would be full again (dropping it is then invisible), and when more than `maxBuckets`
 * are live the least recently used are dropped first.
 */
export class MemoryBucketStore implements BucketStore {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxBuckets = 100_000) {}

  get size(): number {
    return this.buckets.size;
  }

  private refill(key: string, limits: BucketLimits, nowMs: number): Bucket {
    const perMs = limits.refillPerMinute / 60_000;
    const existing = this.buckets.get(key);
    let bucket: Bucket;
    if (!existing || nowMs >= existing.fullAtMs) {
      bucket = { tokens: limits.capacity, updatedMs: nowMs, fullAtMs: nowMs };
    } else {
      const elapsed = Math.max(0, nowMs - existing.updatedMs);
      bucket = {
        tokens: Math.min(limits.capacity, existing.tokens + elapsed * perMs),
        updatedMs: nowMs,
        fullAtMs: existing.fullAtMs,
      };
    }
    return bucket;
  }

  /** The decision after a take (or peek); when refused, the wait is for the next whole token. */
  private decide(bucket: Bucket, limits: BucketLimits, nowMs: number, allowed: boolean): BucketDecision {
    const perMs = limits.refillPerMinute / 60_000;
    const missing = allowed ? 0 : 1 - bucket.tokens;
    return {
      allowed,
      remaining: Math.max(0, Math.floor(bucket.tokens)),
      limit: limits.capacity,
      retryAfterMs: allowed ? 0 : Math.ceil(missing / perMs),
      resetMs: Math.max(0, bucket.fullAtMs - nowMs),
    };
  }

  async take(key: string, limits: BucketLimits, nowMs: number): Promise<BucketDecision> {
    const bucket = this.refill(key, limits, nowMs);
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.save(key, bucket, limits, nowMs);
    return this.decide(bucket, limits, nowMs, allowed);
  }

  async takeUpTo(key: string, limits: BucketLimits, nowMs: number, count: number): Promise<BucketGrant> {
    const bucket = this.refill(key, limits, nowMs);
    // The same as `count` takes in a row: each takes a whole token while one is left.
    const granted = Math.max(0, Math.min(count, Math.floor(bucket.tokens)));
    bucket.tokens -= granted;
    this.save(key, bucket, limits, nowMs);
    const allowed = granted === count;
    return { ...this.decide(bucket, limits, nowMs, allowed), granted };
  }

  private save(key: string, bucket: Bucket, limits: BucketLimits, nowMs: number): void {
    const perMs = limits.refillPerMinute / 60_000;
    bucket.fullAtMs = nowMs + Math.ceil((limits.capacity - bucket.tokens) / perMs);
    this.buckets.delete(key);
    if (bucket.fullAtMs > nowMs) this.buckets.set(key, bucket);
    this.evict(nowMs);
  }

  async peek(key: string, limits: BucketLimits, nowMs: number): Promise<BucketDecision> {
    const bucket = this.refill(key, limits, nowMs);
    return this.decide(bucket, limits, nowMs, bucket.tokens >= 1);
  }

  /** Drops buckets that are full again (oldest first) and enforces the size cap. */
  private evict(nowMs: number): void {
    let checked = 0;
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size > this.maxBuckets || (bucket.fullAtMs <= nowMs && checked < 8)) {
        this.buckets.delete(key);
      } else {
        break;
      }
      checked += 1;
    }
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }
}
