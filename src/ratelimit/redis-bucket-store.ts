import { Redis } from 'ioredis';
import {
  AUTH_FAILURE_KEY_PREFIX,
  type BucketDecision,
  type BucketGrant,
  type BucketLimits,
  type BucketStore,
} from './bucket-store.js';
import { MemoryBucketStore } from './memory-bucket-store.js';

/**
 * One bucket as a single Redis string: the time (server microseconds) at which the bucket is full
 * again, as in GCRA. Tokens now = capacity - (fullAt - now) / microseconds per token. Taking n
 * tokens moves fullAt n intervals later; the key expires exactly when the bucket is full, so Redis
 * holds only buckets that are not full. The clock is the Redis server's (TIME), so every instance
 * reads one clock. ARGV: capacity, refill per minute, count (0 = peek, spends nothing).
 * Returns {allowed, granted, whole tokens left, retry after ms, ms until full}.
 * fullAt is written with %.17g so that it reads back exactly (Lua's tostring keeps 14 digits).
 */
const BUCKET_SCRIPT = `
local capacity = tonumber(ARGV[1])
local usPerToken = 60000000 / tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local fullAt = tonumber(redis.call('GET', KEYS[1])) or now
if fullAt < now then fullAt = now end
local tokens = capacity - (fullAt - now) / usPerToken
local granted = 0
if count > 0 then
  granted = math.max(0, math.min(count, math.floor(tokens)))
  if granted > 0 then
    fullAt = fullAt + granted * usPerToken
    redis.call('SET', KEYS[1], string.format('%.17g', fullAt), 'PX', math.ceil((fullAt - now) / 1000))
  end
end
local left = tokens - granted
local allowed = 0
if (count > 0 and granted == count) or (count == 0 and left >= 1) then allowed = 1 end
local retryAfterMs = 0
if allowed == 0 then retryAfterMs = math.ceil((1 - left) * usPerToken / 1000) end
return { allowed, granted, math.max(0, math.floor(left)), retryAfterMs, math.ceil((fullAt - now) / 1000) }
`;

/** What to do while Redis does not answer: allow everything, or per-instance memory buckets. */
export type RedisFailureMode = 'open' | 'local';

/** Reported once when Redis stops answering and once when it answers again. */
export type RedisStatus = { up: false; error: Error } | { up: true; downForMs: number };

export interface RedisBucketStoreOptions {
  url: string;
  /** Put before every bucket key, so several deployments (or test files) can share one Redis. */
  keyPrefix: string;
  /** Longest wait for one Redis command; past it the request takes the fallback. */
  commandTimeoutMs: number;
  failureMode: RedisFailureMode;
  /** How often to check whether an unreachable Redis is back. Default 1 s. */
  probeIntervalMs?: number;
}

type BucketClient = Redis & {
  cgBucket(key: string, capacity: number, refillPerMinute: number, count: number): Promise<number[]>;
};

/**
 * Buckets shared by every instance, in Redis: one Lua script call per decision (atomic on the
 * server), `takeUpTo` included, so a batch costs one round trip per tracking token.
 *
 * Never hangs a request: commands are not queued while disconnected (they fail at once), each has
 * a timeout, and after the first failure requests skip Redis altogether until a background PING
 * every `probeIntervalMs` succeeds again. Meanwhile decisions follow `failureMode`: `local` keeps
 * buckets in this instance's memory (with N instances, up to N times the limit gets through),
 * `open` allows every request. The failed-key budgets (AUTH_FAILURE_KEY_PREFIX) always use the
 * local buckets, even in `open` mode: an outage must not lift the brute-force lockout.
 */
export class RedisBucketStore implements BucketStore {
  private readonly client: BucketClient;
  private readonly local = new MemoryBucketStore();
  private readonly listeners = new Set<(status: RedisStatus) => void>();
  private up = false;
  private downSinceMs = Date.now();
  private lastError: Error = new Error('not connected yet');
  private probe: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly options: RedisBucketStoreOptions) {
    const client = new Redis(options.url, {
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(1000, options.commandTimeoutMs),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Reconnect quickly: recovery is noticed within a second or two of Redis returning.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: true,
      connectionName: 'cost-guardian-ratelimit',
    });
    client.defineCommand('cgBucket', { numberOfKeys: 1, lua: BUCKET_SCRIPT });
    this.client = client as BucketClient;
    // Connection errors are reported through the status, once per episode (not per retry).
    client.on('error', (error: Error) => this.markDown(error));
    client.on('end', () => this.markDown(new Error('connection closed')));
    client.on('ready', () => {
      if (!this.up) this.checkNow();
    });
  }

  /**
   * Connects, waiting at most about a second. An unreachable Redis is not an error: the store
   * starts in its fallback and reports it (call `watch` to hear), then recovers by itself.
   */
  static async connect(options: RedisBucketStoreOptions): Promise<RedisBucketStore> {
    const store = new RedisBucketStore(options);
    store.client.connect().catch((error: Error) => store.markDown(error));
    const deadline = Date.now() + Math.max(1000, options.commandTimeoutMs);
    while (!store.up && Date.now() < deadline) {
      await store.ping();
      if (!store.up) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!store.up) store.startProbe();
    return store;
  }

  /** Hears every change between reachable and unreachable; told at once if Redis is down now. */
  watch(listener: (status: RedisStatus) => void): void {
    this.listeners.add(listener);
    if (!this.up) listener({ up: false, error: this.lastError });
  }

  get isUp(): boolean {
    return this.up;
  }

  take(key: string, limits: BucketLimits, nowMs: number): Promise<BucketDecision> {
    return this.decide(key, limits, nowMs, 1);
  }

  takeUpTo(key: string, limits: BucketLimits, nowMs: number, count: number): Promise<BucketGrant> {
    return this.decide(key, limits, nowMs, count);
  }

  peek(key: string, limits: BucketLimits, nowMs: number): Promise<BucketDecision> {
    return this.decide(key, limits, nowMs, 0);
  }

  private async decide(
    key: string,
    limits: BucketLimits,
    nowMs: number,
    count: number,
  ): Promise<BucketGrant> {
    if (this.up) {
      try {
        const reply = await this.client.cgBucket(
          this.options.keyPrefix + key,
          limits.capacity,
          limits.refillPerMinute,
          count,
        );
        return {
          allowed: reply[0] === 1,
          granted: reply[1] ?? 0,
          remaining: reply[2] ?? 0,
          limit: limits.capacity,
          retryAfterMs: reply[3] ?? 0,
          resetMs: reply[4] ?? 0,
        };
      } catch (error) {
        this.markDown(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return this.fallback(key, limits, nowMs, count);
  }

  private fallback(key: string, limits: BucketLimits, nowMs: number, count: number): Promise<BucketGrant> {
    if (this.options.failureMode === 'open' && !key.startsWith(AUTH_FAILURE_KEY_PREFIX)) {
      return Promise.resolve({
        allowed: true,
        granted: count,
        remaining: limits.capacity,
        limit: limits.capacity,
        retryAfterMs: 0,
        resetMs: 0,
      });
    }
    if (count === 0) return this.local.peek(key, limits, nowMs).then((d) => ({ ...d, granted: 0 }));
    return this.local.takeUpTo(key, limits, nowMs, count);
  }

  private markDown(error: Error): void {
    this.lastError = error;
    if (!this.up || this.closed) return;
    this.up = false;
    this.downSinceMs = Date.now();
    for (const listener of this.listeners) listener({ up: false, error });
    this.startProbe();
  }

  private markUp(): void {
    if (this.up || this.closed) return;
    this.up = true;
    this.stopProbe();
    const downForMs = Date.now() - this.downSinceMs;
    for (const listener of this.listeners) listener({ up: true, downForMs });
  }

  private async ping(): Promise<void> {
    try {
      await this.client.ping();
      this.markUp();
    } catch (error) {
      this.lastError = error instanceof Error ? error : new Error(String(error));
    }
  }

  private checkNow(): void {
    void this.ping();
  }

  private startProbe(): void {
    if (this.probe || this.closed) return;
    this.probe = setInterval(() => this.checkNow(), this.options.probeIntervalMs ?? 1000);
    this.probe.unref();
  }

  private stopProbe(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopProbe();
    this.listeners.clear();
    this.client.disconnect();
    await this.local.close();
  }
}
