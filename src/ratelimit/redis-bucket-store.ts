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
 * Each bucket is one Redis string: the time (server microseconds) at which the bucket is full
 * again, as in GCRA. Tokens now = capacity - (fullAt - now) / microseconds per token. Taking n
 * tokens moves fullAt n intervals later; the key expires exactly when the bucket is full, so Redis
 * holds only buckets that are not full. The clock is the Redis server's (TIME), so every instance
 * reads one clock.
 *
 * One call decides a whole batch of requests, in order, atomically (a script runs alone): KEYS are
 * the distinct bucket keys; ARGV holds four numbers per request: key index (1-based), capacity,
 * refill per minute, count (0 = peek, spends nothing). Returns five numbers per request: allowed,
 * granted, whole tokens left, retry after ms, ms until full. fullAt is written with %.17g so that
 * it reads back exactly (Lua's tostring keeps 14 digits).
 */
const BUCKET_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local fullAts = {}
local changed = {}
local out = {}
for i = 1, #ARGV, 4 do
  local k = tonumber(ARGV[i])
  local capacity = tonumber(ARGV[i + 1])
  local usPerToken = 60000000 / tonumber(ARGV[i + 2])
  local count = tonumber(ARGV[i + 3])
  local fullAt = fullAts[k]
  if fullAt == nil then fullAt = tonumber(redis.call('GET', KEYS[k])) or now end
  if fullAt < now then fullAt = now end
  local tokens = capacity - (fullAt - now) / usPerToken
  local granted = 0
  if count > 0 then
    granted = math.max(0, math.min(count, math.floor(tokens)))
    if granted > 0 then
      fullAt = fullAt + granted * usPerToken
      changed[k] = true
    end
  end
  fullAts[k] = fullAt
  local left = tokens - granted
  local allowed = 0
  if (count > 0 and granted == count) or (count == 0 and left >= 1) then allowed = 1 end
  local retryAfterMs = 0
  if allowed == 0 then retryAfterMs = math.ceil((1 - left) * usPerToken / 1000) end
  out[#out + 1] = allowed
  out[#out + 1] = granted
  out[#out + 1] = math.max(0, math.floor(left))
  out[#out + 1] = retryAfterMs
  out[#out + 1] = math.ceil((fullAt - now) / 1000)
end
for k in pairs(changed) do
  redis.call('SET', KEYS[k], string.format('%.17g', fullAts[k]), 'PX', math.ceil((fullAts[k] - now) / 1000))
end
return out
`;

/** Most requests one script call decides; more wait for the next call. */
const MAX_BATCH = 1000;

interface Pending {
  key: string;
  limits: BucketLimits;
  nowMs: number;
  count: number;
  resolve(grant: BucketGrant): void;
}

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
  cgBuckets(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
};

/**
 * Buckets shared by every instance, in Redis. Decisions asked for in one turn of the event loop go
 * to Redis together, in one Lua script call that decides them in order, atomically (the same idea
 * as the SQLite store's group commit): under load a round trip serves many requests, and an idle
 * service pays one round trip per request. `takeUpTo` is one decision, so a batch of records costs
 * a share of one call, not one call per record.
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
  /** Decisions asked for in this turn of the event loop, sent together by `flush`. */
  private pending: Pending[] = [];

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
    client.defineCommand('cgBuckets', { lua: BUCKET_SCRIPT });
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

  private decide(key: string, limits: BucketLimits, nowMs: number, count: number): Promise<BucketGrant> {
    if (!this.up) return this.fallback(key, limits, nowMs, count);
    return new Promise((resolve) => {
      this.pending.push({ key, limits, nowMs, count, resolve });
      if (this.pending.length === 1) setImmediate(() => this.flush());
      else if (this.pending.length >= MAX_BATCH) this.flush();
    });
  }

  private flush(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const keys: string[] = [];
    const keyIndex = new Map<string, number>();
    const args: number[] = [];
    for (const request of batch) {
      let index = keyIndex.get(request.key);
      if (index === undefined) {
        keys.push(this.options.keyPrefix + request.key);
        index = keys.length;
        keyIndex.set(request.key, index);
      }
      args.push(index, request.limits.capacity, request.limits.refillPerMinute, request.count);
    }
    this.client.cgBuckets(keys.length, ...keys, ...args).then(
      (reply) => {
        batch.forEach((request, i) => {
          const at = i * 5;
          request.resolve({
            allowed: reply[at] === 1,
            granted: reply[at + 1] ?? 0,
            remaining: reply[at + 2] ?? 0,
            limit: request.limits.capacity,
            retryAfterMs: reply[at + 3] ?? 0,
            resetMs: reply[at + 4] ?? 0,
          });
        });
      },
      (error: unknown) => {
        this.markDown(error instanceof Error ? error : new Error(String(error)));
        for (const request of batch) {
          void this.fallback(request.key, request.limits, request.nowMs, request.count).then(request.resolve);
        }
      },
    );
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
    } catch {
      // Still down. The connection's own error (refused, timed out) is the one worth reporting.
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
