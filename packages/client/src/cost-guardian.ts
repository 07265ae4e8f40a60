import { type Attribution, cleanAttribution, currentAttribution, merge } from './attribution.js';
import {
  type BudgetVerdict,
  Delivery,
  type DeliveryEvent,
  type DeliveryStats,
  type FlushResult,
  SERVER_BATCH_MAX,
} from './delivery.js';
import { instrumentSdk } from './instrument-sdk.js';
import { type Observation, observeResponse } from './observation.js';
import { realScheduler, type Scheduler } from './scheduler.js';

export interface CostGuardianOptions extends Attribution {
  /** The tracking token every record is counted under (POST /ingest/tokens, or the dashboard). */
  trackingToken: string;
  /** Cost Guardian's origin, e.g. https://costs.example.com (no path). */
  endpoint: string;
  /** The server's INGEST_KEY, sent as X-Ingest-Key. */
  ingestKey: string;
  /** Provider id for every record (default: the server's PROVIDER, openai). */
  provider?: string;
  /** Records held in memory at most; more are dropped and counted. Default 10,000. */
  maxQueue?: number;
  /** Records per request, at most 1,000. Default 500. */
  batchSize?: number;
  /** Bytes per request at most; keep under the server's BODY_LIMIT_BYTES. Default 512 KiB. */
  batchBytes?: number;
  /** A record waits at most this long before it is sent. Default 1,000 ms. */
  flushIntervalMs?: number;
  /** One delivery request is abandoned (and retried) after this. Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** Retry backoff: first delay and cap, before jitter. Default 500 ms and 30,000 ms. */
  retry?: { baseMs?: number; maxMs?: number };
  /** How long `flush()` waits by default. Default 10,000 ms. */
  flushTimeoutMs?: number;
  /** Node: how long the exit hooks (beforeExit, SIGTERM) wait for delivery. Default 5,000 ms. */
  exitTimeoutMs?: number;
  /** Node: flush on beforeExit and SIGTERM. Default true. */
  exitHooks?: boolean;
  /**
   * Node: a directory where unacknowledged records are also written, so that records a crash or a
   * failed exit flush left unsent are sent at the next start. Off by default.
   */
  spoolDir?: string;
  /** Delivery trouble (retries, refusals, drops). Default: a console warning, at most one a minute per kind. */
  onError?: (event: DeliveryEvent) => void;
  /** Arrives with budgets: called with the budget verdicts of each ingest answer that carries them. */
  onBudget?: (verdicts: BudgetVerdict[]) => void;
  /** For tests and unusual runtimes. */
  fetch?: typeof fetch;
  scheduler?: Scheduler;
  random?: () => number;
}

export interface TrackOptions extends Attribution {
  /** Idempotency key; default the response id. */
  eventId?: string;
  provider?: string;
  /** The call ran through a Batch API. */
  batch?: boolean;
}

export interface ClientStats extends DeliveryStats {
  /** Calls that returned without usage to report (a stream cut before its usage chunk, a body without usage). */
  untracked: number;
}

/** What differs between Node and edge runtimes; the Node entry fills it in (node.ts). */
export interface Platform {
  uuid(): string;
  /** Called once per new client: exit hooks, disk spool. */
  onCreate(guardian: CostGuardian, options: CostGuardianOptions): void;
}

export const platform: Platform = {
  uuid: () => {
    const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
    if (crypto?.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
  },
  onCreate: () => {},
};

/** Every live client, for the process-wide flush() and the exit hooks. */
export const liveClients = new Set<CostGuardian>();

function defaultOnError(): (event: DeliveryEvent) => void {
  const lastWarned = new Map<string, number>();
  let dropped = 0;
  return (event) => {
    if (event.kind === 'dropped') dropped += event.count;
    const key = event.kind === 'rejected' ? `rejected:${event.code}` : event.kind;
    const now = Date.now();
    if (event.kind === 'retry' && event.attempt > 1) return;
    if (event.kind !== 'recovered' && now - (lastWarned.get(key) ?? Number.NEGATIVE_INFINITY) < 60_000)
      return;
    lastWarned.set(key, now);
    if (event.kind === 'retry')
      console.warn(`cost-guardian: delivery failed (${event.message}); records are kept and retried`);
    else if (event.kind === 'recovered')
      console.warn(`cost-guardian: delivering again after ${event.attempts} failed attempts`);
    else if (event.kind === 'rejected')
      console.warn(`cost-guardian: ${event.count} record(s) refused (${event.code}): ${event.reason}`);
    else console.warn(`cost-guardian: queue full, ${dropped} record(s) dropped so far`);
  };
}

/**
 * One connection to Cost Guardian: a tracking token, a queue and its sender. Wrap as many SDK
 * clients with it as you like; they share the queue.
 */
export class CostGuardian {
  readonly options: Readonly<CostGuardianOptions>;
  readonly delivery: Delivery;
  private readonly defaults: Attribution;
  private readonly scheduler: Scheduler;
  private untracked = 0;
  private warnedTags = false;

  constructor(options: CostGuardianOptions) {
    for (const name of ['trackingToken', 'endpoint', 'ingestKey'] as const) {
      if (typeof options[name] !== 'string' || options[name].trim() === '') {
        throw new TypeError(`cost-guardian: ${name} is required`);
      }
    }
    this.options = options;
    this.scheduler = options.scheduler ?? realScheduler;
    this.defaults = {
      ...(options.user ? { user: options.user } : {}),
      ...(options.tags ? { tags: options.tags } : {}),
    };
    this.delivery = new Delivery({
      endpoint: options.endpoint,
      ingestKey: options.ingestKey,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      scheduler: this.scheduler,
      random: options.random ?? Math.random,
      maxQueue: options.maxQueue ?? 10_000,
      batchSize: Math.min(SERVER_BATCH_MAX, options.batchSize ?? 500),
      batchBytes: options.batchBytes ?? 512 * 1024,
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      backoff: { baseMs: options.retry?.baseMs ?? 500, maxMs: options.retry?.maxMs ?? 30_000 },
      onEvent: options.onError ?? defaultOnError(),
      ...(options.onBudget ? { onBudget: options.onBudget } : {}),
    });
    liveClients.add(this);
    platform.onCreate(this, options);
  }

  /**
   * Tracks one provider response the app obtained itself: an OpenAI chat completion, completion,
   * Responses API response or embeddings list, or an Anthropic message. Returns false (and counts it
   * as untracked) when the response has no usage to report. Never throws.
   */
  track(response: unknown, options: TrackOptions = {}): boolean {
    const { eventId, provider, batch, ...attribution } = options;
    const observed = observeResponse(response, requestIdOf(response));
    if (!observed) {
      this.untracked += 1;
      return false;
    }
    return this.record(
      {
        ...observed,
        ...(eventId ? { eventId } : {}),
        ...(provider ? { provider } : {}),
        ...(batch ? { batch: true } : {}),
      },
      merge(currentAttribution(), attribution),
    );
  }

  /**
   * A copy of an OpenAI SDK client (openai v5+) whose calls are tracked; the original is untouched.
   * `attribution` is added to every call made through the copy.
   */
  wrapOpenAI<T extends object>(openai: T, attribution: Attribution = {}): T {
    return instrumentSdk('openai', openai, this, attribution);
  }

  /**
   * A copy of an Anthropic SDK client (@anthropic-ai/sdk) whose `messages.create` calls, streamed
   * or not (and `messages.stream()`), are tracked; the original is untouched.
   */
  wrapAnthropic<T extends object>(anthropic: T, attribution: Attribution = {}): T {
    return instrumentSdk('anthropic', anthropic, this, attribution);
  }

  /**
   * Queues the record of one observed call, attributed to this client's defaults plus
   * `attribution` (the caller's, already merged with its context). Never throws; false when it
   * could not be queued.
   */
  record(observation: Observation, attribution?: Attribution): boolean {
    try {
      const who = merge(this.defaults, attribution);
      const { clean, dropped } = cleanAttribution(who);
      if (dropped.length > 0 && !this.warnedTags) {
        this.warnedTags = true;
        console.warn(
          `cost-guardian: tags ${dropped.map((k) => JSON.stringify(k)).join(', ')} dropped (keys: 1-64 of A-Z a-z 0-9 _ . -, values: 1-200 characters, at most 10 tags)`,
        );
      }
      const provider = observation.provider ?? this.options.provider;
      const record = {
        tracking_token: this.options.trackingToken,
        event_id: observation.eventId ?? `cg_${platform.uuid()}`,
        model: observation.model,
        timestamp: new Date(this.scheduler.now()).toISOString(),
        api: observation.api,
        usage: observation.usage,
        ...(provider ? { provider } : {}),
        ...(observation.serviceTier ? { service_tier: observation.serviceTier } : {}),
        ...(observation.batch ? { batch: true } : {}),
        ...(clean.user ? { user: clean.user } : {}),
        ...(clean.tags ? { tags: clean.tags } : {}),
      };
      return this.delivery.enqueue(JSON.stringify(record));
    } catch {
      this.untracked += 1;
      return false;
    }
  }

  /** Counts a call whose usage could not be known (see ClientStats.untracked). */
  countUntracked(): void {
    this.untracked += 1;
  }

  /** Sends everything queued now; resolves when all is answered or after `timeoutMs`. Never rejects. */
  flush(timeoutMs = this.options.flushTimeoutMs ?? 10_000): Promise<FlushResult> {
    return this.delivery.flush(timeoutMs);
  }

  stats(): ClientStats {
    return { ...this.delivery.stats(), untracked: this.untracked };
  }

  /** Arrives with budgets: the last verdict per budget from the ingest answers (empty until then). */
  lastBudgets(): BudgetVerdict[] {
    return this.delivery.lastBudgets();
  }

  /** Stops counting this client in the process-wide flush and exit hooks (tests, short-lived clients). */
  close(): void {
    liveClients.delete(this);
  }
}

/** The `_request_id` the OpenAI SDK puts on parsed bodies (non-enumerable): the id of an embeddings call. */
export function requestIdOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { _request_id?: unknown })._request_id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

const shared = new Map<string, CostGuardian>();

/**
 * The client for these connection options, created on first use: wrappers and track() calls made
 * with the same endpoint, ingest key and tracking token share one queue and one sender.
 */
export function costGuardian(options: CostGuardianOptions): CostGuardian {
  const key = `${options.endpoint}\n${options.ingestKey}\n${options.trackingToken}`;
  let guardian = shared.get(key);
  if (!guardian || !liveClients.has(guardian)) {
    guardian = new CostGuardian({ ...options, user: undefined, tags: undefined });
    shared.set(key, guardian);
  }
  return guardian;
}

/** Flushes every client in this process; resolves with what is still unsent. Never rejects. */
export async function flush(timeoutMs?: number): Promise<FlushResult> {
  const results = await Promise.all([...liveClients].map((client) => client.flush(timeoutMs)));
  return { pending: results.reduce((sum, r) => sum + r.pending, 0) };
}
