/**
 * The storage contract. Every backend (SQLite today) implements Store unchanged, and the contract
 * test suite (test/store-contract.test.ts) runs against each one.
 *
 * Rules every implementation keeps:
 * - Times are integer milliseconds since the Unix epoch, UTC. Money is integer nano-dollars.
 * - A promise from a write resolves only after the write is durable (committed and synced).
 * - `insertUsage` is atomic: all of its records and their tokens' last-seen times commit together,
 *   or none do. A record whose (ingestTokenId, eventId) already exists is reported as a duplicate,
 *   never as an error, even when the twin arrives in the same call or concurrently.
 * - Deleting a token never deletes or re-attributes its usage rows.
 * - Reads never block writes for long: a backend must not hold the writer while streaming an export.
 * - Implementations must not throw for expected outcomes (taken label, unknown id); those are values.
 * - A write never blocks the event loop waiting for a lock. When another connection or process
 *   holds the database's write lock, it waits asynchronously, then rejects with StoreLockedError;
 *   when the disk is full it rejects with StoreFullError. Either way nothing of it was written,
 *   and writes resume by themselves once the cause is gone.
 */

import type { ExportFormat } from '../lib/usage-export.js';
import type { ProviderReportStore } from './provider-reports.js';
import type { UsageAggregateQuery, UsageAggregateResult } from './usage-aggregate.js';

export type PricingStatus = 'priced' | 'estimated' | 'unpriced';
export type UsageSource = 'ingest' | 'legacy' | 'import' | 'otlp';

export interface TokenRecord {
  id: number;
  label: string;
  token: string;
  active: boolean;
  createdAt: number;
  /** Server time of the last ingest that named this token (not the client's clock). */
  lastSeenAt: number | null;
}

export interface TokenSummary extends TokenRecord {
  usageCount: number;
  /** Sum of priced usage; unpriced rows are counted in unpricedCount instead. */
  costNanoUsd: number;
  unpricedCount: number;
}

/** Token buckets of one call, in the OpenAI convention: cached and cache-write are parts of prompt. */
export interface TokenCounts {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  /** Part of cacheWriteTokens written with the longer, dearer retention (Anthropic 1 hour, OpenAI 12 hours). */
  cacheWriteExtendedTokens: number;
  /** Part of completionTokens; stored for display, never billed twice. */
  reasoningTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
}

export interface NewUsage extends TokenCounts {
  /** When the call happened (client-supplied or receive time). */
  ts: number;
  receivedAt: number;
  source: UsageSource;
  ingestTokenId: number | null;
  eventId: string | null;
  provider: string;
  model: string;
  serviceTier: string | null;
  batch: boolean;
  completionWindow: string | null;
  /** null means unpriced: never stored as 0. */
  costNanoUsd: number | null;
  pricingStatus: PricingStatus;
  pricingSource: string | null;
  /** JSON text: the rates and multipliers that produced costNanoUsd. */
  pricingRates: string | null;
  /** What the client said it cost; kept for comparison only. */
  clientCostNanoUsd: number | null;
  /** JSON text of the client's free-form meta object. */
  meta: string | null;
  /** JSON text of the provider's raw usage object, when the client sent one. */
  rawUsage: string | null;
  /** The client's end-user id, for attribution (absent = none). */
  user?: string | null;
  /**
   * Small string map for attribution, e.g. {"team":"search"} (absent = none). Never mutated once
   * handed to the store: the SQLite store keeps derived text per tag object.
   */
  tags?: Readonly<Record<string, string>> | null;
  /**
   * The row's id in a database of the original (Flask) Cost Guardian, set by `import-original`
   * only. Unique: an implementation must refuse a second row with the same original id.
   */
  originalId?: number | null;
}

export interface UsageRow extends NewUsage {
  id: number;
  user: string | null;
  tags: Readonly<Record<string, string>> | null;
  /** Label of the attributed token, also after the token was deleted. */
  tokenLabel: string | null;
}

export type InsertOutcome = ({ status: 'created'; id: number } | { status: 'duplicate'; id: number }) & {
  /**
   * The budgets whose scope the record falls in, each in its current window, with the spend after
   * this record (see BudgetStore). Absent when no budget applies.
   */
  budgets?: readonly BudgetVerdict[];
};

export interface UsageFilter {
  /** Inclusive lower bound on ts. */
  startMs?: number;
  /** Inclusive upper bound on ts. */
  endMs?: number;
  model?: string;
  ingestTokenId?: number;
  provider?: string;
  /** Rows of this end user. */
  user?: string;
  /** Rows that carry every one of these tags. */
  tags?: readonly TagFilter[];
}

export interface TagFilter {
  key: string;
  value: string;
}

/** Position after the last row of a page, in the page order (ts DESC, id DESC). */
export interface UsageCursor {
  ts: number;
  id: number;
}

export interface UsagePage {
  rows: UsageRow[];
  next: UsageCursor | null;
}

export interface StoreStats {
  usageRows: number;
  activeTokens: number;
  lastUsageAt: number | null;
  lastTokenSeenAt: number | null;
  tokensSeenLastMinute: number;
  tokensSeenLast5Minutes: number;
  tokensSeenLastHour: number;
}

export type CreateTokenResult =
  | { status: 'created'; token: TokenRecord }
  | { status: 'label_taken' | 'token_taken' };

/** A dashboard sign-in. idHash is a hash of the cookie value; the value itself is never stored. */
export interface AdminSession {
  idHash: string;
  createdAt: number;
  expiresAt: number;
  remember: boolean;
}

/** What changed in the usage table; sent after the change is durable. */
export type UsageChange = { kind: 'insert'; rows: number } | { kind: 'reset'; rows: number };

/** Usage of one (provider, model), for GET /models. */
export interface ModelUsage {
  provider: string;
  model: string;
  requests: number;
  /** Rows stored with no cost (cost NULL): the model had no known price when they were priced. */
  unpricedRequests: number;
  estimatedRequests: number;
  /** Sum of the priced and estimated rows. */
  costNanoUsd: number;
  lastAt: number;
}

/** A tag key with usage and its most used values (GET /usage/tags). */
export interface TagKeyUsage {
  key: string;
  /** Rows that carry this key. */
  requests: number;
  /** Distinct values of the key with usage (more than `values` may list). */
  distinctValues: number;
  /** The most used values first. */
  values: { value: string; requests: number }[];
}

/** One version of the price overrides edited through the admin API. Versions are never changed. */
export interface PriceOverrideVersion {
  version: number;
  /** JSON text of the validated document. */
  document: string;
  createdAt: number;
  actor: string;
  note: string | null;
}

/** The columns of a usage row that pricing reads and writes. */
export interface RepriceRow extends TokenCounts {
  id: number;
  ts: number;
  provider: string;
  model: string;
  serviceTier: string | null;
  batch: boolean;
  completionWindow: string | null;
  costNanoUsd: number | null;
  pricingStatus: PricingStatus;
  pricingSource: string | null;
  pricingRates: string | null;
}

export interface StoredPricing {
  costNanoUsd: number | null;
  status: PricingStatus;
  source: string | null;
  /** JSON text. */
  rates: string | null;
}

/** A row's pricing before and after a reprice. */
export interface RepricedCost {
  usageId: number;
  old: StoredPricing;
  new: StoredPricing;
  /**
   * Set when the reprice also moves the row to another provider (one inferred from its model name
   * for a row stored under the default provider): its provider before and after.
   */
  provider?: { old: string; new: string };
}

export interface RepriceScope {
  model?: string;
  /** Inclusive bounds on the call time. */
  startMs?: number;
  endMs?: number;
}

export interface NewRepriceRun {
  kind: 'reprice' | 'undo';
  undoOf: number | null;
  actor: string;
  requestId: string | null;
  startedAt: number;
  scope: RepriceScope;
  priceSources: readonly string[];
}

export interface RepriceRun extends NewRepriceRun {
  id: number;
  status: 'running' | 'done' | 'failed';
  finishedAt: number | null;
  rowsScanned: number;
  rowsChanged: number;
  rowsSkipped: number;
  oldTotalNanoUsd: number;
  newTotalNanoUsd: number;
  error: string | null;
}

export interface RepriceRunSummary {
  status: 'done' | 'failed';
  finishedAt: number;
  rowsScanned: number;
  error: string | null;
}

/**
 * Whether writes can proceed: 'locked' while another connection or process holds the write lock,
 * 'full' after a write failed for lack of disk space (until a write succeeds again, or free space
 * has grown), 'failed' once writes are refused for good (a failed sync: restart needed).
 */
export type WriteState = 'ok' | 'locked' | 'full' | 'failed';

/** Below this much free space a disk counts as full: a group commit's WAL frames can need more. */
export const FULL_DISK_BYTES = 1_048_576;

export interface WriteHealth {
  state: WriteState;
  /** Free bytes on the database's file system, when the backend can tell. */
  freeBytes?: number;
}

export interface Store {
  /** Throws when the database cannot answer a trivial query. */
  ping(): Promise<void>;
  /**
   * The write path's state, checked now without waiting for any lock (a probe of the write lock,
   * free disk space). Never throws.
   */
  writeHealth(): Promise<WriteHealth>;
  /**
   * Calls `listener` each time the write path's state changes (e.g. 'ok' -> 'full' when a write
   * fails for lack of space, 'full' -> 'ok' when one succeeds again). Listeners must not throw.
   * Returns the function that unsubscribes.
   */
  onWriteStateChange(listener: (state: WriteState) => void): () => void;
  /** Commits every queued write, then releases connections and workers. Idempotent. */
  close(): Promise<void>;

  createToken(input: { label: string; token: string; createdAt: number }): Promise<CreateTokenResult>;
  /** Live (not deleted) tokens, newest first, with their usage totals. */
  listTokens(): Promise<TokenSummary[]>;
  /** A live token by its exact value (case-sensitive). */
  findTokenByValue(token: string): Promise<TokenRecord | undefined>;
  /** Undefined when no live token has this id. */
  setTokenActive(id: number, active: boolean): Promise<TokenRecord | undefined>;
  /** Soft delete: the token stops being found; its usage rows keep their attribution. */
  deleteToken(id: number, deletedAt: number): Promise<boolean>;

  insertUsage(records: readonly NewUsage[]): Promise<InsertOutcome[]>;
  /** Deletes every usage row; tokens stay. Returns the number of rows deleted. */
  resetUsage(): Promise<number>;

  listUsage(filter: UsageFilter, page: { limit: number; after?: UsageCursor }): Promise<UsagePage>;
  /**
   * Every matching row, newest first, encoded with lib/usage-export.ts (preamble first), in chunks
   * that are pulled as the consumer reads: memory stays bounded whatever the row count, and the
   * encoding work happens off the thread that answers ingest. Any number of exports may run at
   * once, identical or not, each independent of the others. An export that fails midway throws
   * from the iteration; it never simply stops, which would pass a cut export for a whole one.
   */
  exportUsage(filter: UsageFilter, format: ExportFormat): AsyncIterable<string>;
  /** Distinct models with usage, ascending. */
  listModels(): Promise<string[]>;
  stats(nowMs: number): Promise<StoreStats>;

  /** Stores a new session and drops every session that expired before `session.createdAt`. */
  createSession(session: AdminSession): Promise<void>;
  /** The session with this hash, unless it is unknown or expired at `nowMs`. */
  findSession(idHash: string, nowMs: number): Promise<AdminSession | undefined>;
  /** True when a session was deleted. */
  deleteSession(idHash: string): Promise<boolean>;

  /**
   * Calls `listener` after each committed write that added usage rows (duplicates do not count)
   * or reset them. Listeners run after the write is durable and must not throw; a listener that
   * does is ignored. Returns the function that unsubscribes.
   */
  onUsageChange(listener: (change: UsageChange) => void): () => void;

  /** Every (provider, model) with usage, with its unpriced count; ordered by model, then provider. */
  listModelUsage(): Promise<ModelUsage[]>;

  /** The newest price-override version, or undefined when none was ever saved. */
  latestPriceOverrides(): Promise<PriceOverrideVersion | undefined>;
  /** Saves a new version (the document is already validated JSON text). */
  savePriceOverrides(input: Omit<PriceOverrideVersion, 'version'>): Promise<PriceOverrideVersion>;

  /**
   * Usage rows in scope after `after` (null: from the start), ascending by (ts, id), at most `limit`.
   * Each call must cost in proportion to `limit`, not to the table (walk an index on ts).
   */
  scanUsageForReprice(scope: RepriceScope, after: UsageCursor | null, limit: number): Promise<RepriceRow[]>;
  createRepriceRun(run: NewRepriceRun): Promise<number>;
  /**
   * THE one way a stored cost (or, with it, a stored provider) changes. Atomically, for each change
   * whose row still has exactly `old` pricing (and `provider.old` as its provider, when the change
   * moves it): writes `new` (and `provider.new`) and records the change under the run (with both
   * values, so it can be inspected and undone), and adds to the run's totals. A row whose pricing
   * or provider moved since it was read is skipped, never overwritten. Anything derived from costs
   * or providers (rollups) must be maintained here, in the same transaction.
   */
  applyRepricedCosts(
    runId: number,
    changes: readonly RepricedCost[],
  ): Promise<{ applied: number; skipped: number }>;
  finishRepriceRun(runId: number, summary: RepriceRunSummary): Promise<void>;
  getRepriceRun(runId: number): Promise<RepriceRun | undefined>;
  /** Newest first. */
  listRepriceRuns(limit: number): Promise<RepriceRun[]>;
  /** The run's changes, ascending by usage id, after `afterUsageId`. */
  listRepriceChanges(runId: number, afterUsageId: number, limit: number): Promise<RepricedCost[]>;

  /** Usage totals per interval and group (analytics); see usage-aggregate.ts. */
  aggregateUsage(query: UsageAggregateQuery): Promise<UsageAggregateResult>;
  /**
   * Every tag key with usage, most used first, with at most `valuesPerKey` of its most used values.
   * Must not scan usage rows (read the rollups or an index): the dashboard asks on every load.
   */
  listTagValues(valuesPerKey: number): Promise<TagKeyUsage[]>;

  /** Budgets and their spend counters (below). */
  readonly budgets: BudgetStore;
  /** Alert channels, the alert outbox and its delivery log (below). */
  readonly alerts: AlertStore;

  /** Provider-reported usage and costs, kept apart from usage rows (provider-reports.ts). */
  readonly reports: ProviderReportStore;
}

/**
 * A read that has to scan usage rows (an analytics question the rollups cannot answer) ran past
 * the store's time limit and was abandoned.
 */
export class QueryTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the query scanned usage rows for longer than ${Math.round(timeoutMs / 1000)} s and was stopped`);
    this.name = 'QueryTimeoutError';
  }
}

/** A write waited for the database's write lock, held by another connection or process, and gave up. */
export class StoreLockedError extends Error {
  constructor(readonly waitedMs: number) {
    super(`the database's write lock was held by another connection for ${waitedMs} ms`);
    this.name = 'StoreLockedError';
  }
}

/** A write failed because the disk holding the database is full; nothing of it was written. */
export class StoreFullError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the disk holding the database is full', options);
    this.name = 'StoreFullError';
  }
}

// Budgets and alerts: two small role interfaces, reached as `store.budgets` and `store.alerts`.

/** A budget's window: a calendar day, ISO week (Monday) or month in an IANA zone, or a rolling span. */
export type BudgetWindowSpec =
  | { kind: 'day' | 'week' | 'month'; timeZone: string }
  /** The last `hours` whole hours, the current one included; it moves on at every full hour. */
  | { kind: 'rolling'; hours: number };

/** Which usage rows a budget counts: every field present must match; an empty scope counts all. */
export interface BudgetScope {
  tokenId?: number;
  /** Exact model name. */
  model?: string;
  /** Models whose name starts with this (written `gpt-4o*` in the API). */
  modelPrefix?: string;
  provider?: string;
  user?: string;
  /** Rows that carry every one of these tags. */
  tags?: readonly TagFilter[];
}

export interface NewBudget {
  name: string;
  limitNanoUsd: number;
  window: BudgetWindowSpec;
  scope: BudgetScope;
  /** Alert thresholds in basis points of the limit (8000 = 80 %), ascending and distinct. */
  thresholdsBp: readonly number[];
  /** Alert once a window when the forecast says the window will end above the limit. */
  forecastAlert: boolean;
  /** Channels that get this budget's alerts; null = every enabled channel. */
  channelIds: readonly number[] | null;
}

export interface Budget extends NewBudget {
  id: number;
  createdAt: number;
  updatedAt: number;
  /** Width of the spend counters: an hour, or a quarter hour for zones with :30/:45 offsets. */
  bucketMs: number;
  /**
   * Usage with ts at or after this is in the budget's counters; earlier usage is not (yet). null
   * until countHistory has counted a first slice.
   */
  countedFromMs: number | null;
}

export type BudgetVerdictKind = 'ok' | 'warn' | 'exceeded';

/** A budget's state in its current window, as the ingest answer carries it. */
export interface BudgetVerdict {
  budgetId: number;
  name: string;
  /** Priced spend in the current window; the record itself included when its ts is in the window. */
  spentNanoUsd: number;
  limitNanoUsd: number;
  /** Requests in the window whose model had no price (not in spentNanoUsd, and not free). */
  unpricedRequests: number;
  verdict: BudgetVerdictKind;
  /** Exclusive end of the current window. */
  windowEndMs: number;
}

export interface BudgetSpendBucket {
  startMs: number;
  costNanoUsd: number;
  unpricedRequests: number;
  requests: number;
}

export interface BudgetWindowState {
  budgetId: number;
  startMs: number;
  /** Exclusive. */
  endMs: number;
  costNanoUsd: number;
  unpricedRequests: number;
  requests: number;
  /** False while the current window is not fully counted yet (a new or re-scoped budget). */
  counted: boolean;
}

export type SaveBudgetResult =
  | { status: 'saved'; budget: Budget }
  | { status: 'name_taken' }
  | { status: 'not_found' };

/**
 * Budgets and their spend counters. The counters move in the same transaction as the usage rows
 * (inserts, reprices, the reset), so a budget's spend in any window equals what the analytics
 * report for the same scope and window. A budget's past is counted by countHistory in slices, each
 * its own transaction; until the current window is covered the budget gives no verdicts and
 * fires no alerts. Threshold alerts are recorded (with their outbox rows) in the transaction whose
 * usage crossed them, at most once per budget, window and threshold.
 */
export interface BudgetStore {
  list(): Promise<Budget[]>;
  get(id: number): Promise<Budget | undefined>;
  /** The new budget counts nothing until countHistory has run. */
  create(input: NewBudget, nowMs: number): Promise<SaveBudgetResult>;
  /** A new window or scope drops the budget's counters, to be counted again by countHistory. */
  update(id: number, input: NewBudget, nowMs: number): Promise<SaveBudgetResult>;
  /** Deletes the budget and its counters; its alerts stay in the log. */
  delete(id: number): Promise<boolean>;
  /**
   * Counts the next slice (at most a UTC day) of the budget's past, newest first, never before
   * `targetStartMs`. The first slice also counts everything after it. Returns the budget's
   * countedFromMs afterwards, or undefined for an unknown budget.
   */
  countHistory(id: number, targetStartMs: number, nowMs: number): Promise<number | undefined>;
  /** Every budget's current window at nowMs with its spend. */
  windowStates(nowMs: number): Promise<BudgetWindowState[]>;
  /** The budget's counters in [startMs, endMs), ascending; empty buckets are left out. */
  spendSeries(id: number, startMs: number, endMs: number): Promise<BudgetSpendBucket[]>;
  /**
   * Priced cost per hour in [startMs, endMs) (hour starts, one number per hour), at nowMs. Cheap
   * for the last four weeks and the current window: a backend keeps those in memory.
   */
  hourlyCosts(id: number, startMs: number, endMs: number, nowMs: number): Promise<Float64Array>;
  /** Records the threshold alerts due at nowMs that have not fired yet; returns how many. */
  checkThresholds(nowMs: number): Promise<number>;
}

export type AlertChannelKind = 'webhook' | 'slack';

export interface NewAlertChannel {
  name: string;
  kind: AlertChannelKind;
  url: string;
  /** The HMAC-SHA256 key of a webhook channel; null for Slack. */
  secret: string | null;
  enabled: boolean;
}

export interface AlertChannel extends NewAlertChannel {
  id: number;
  createdAt: number;
}

export type AlertKind = 'threshold' | 'forecast' | 'anomaly' | 'unpriced' | 'drift' | 'test';

export interface NewAlertEvent {
  kind: AlertKind;
  /** One alert per key, ever: recording an existing key records nothing. */
  dedupeKey: string;
  budgetId: number | null;
  createdAt: number;
  /** JSON text: what the alert says, with the numbers of the moment it fired. */
  payload: string;
}

export interface AlertEvent extends NewAlertEvent {
  id: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One alert to one channel: a row of the outbox. */
export interface AlertDelivery {
  id: number;
  eventId: number;
  channelId: number;
  status: DeliveryStatus;
  attempts: number;
  /** When the sender tries next (pending only). */
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: number | null;
  createdAt: number;
}

export interface DueDelivery extends AlertDelivery {
  event: AlertEvent;
  channel: AlertChannel;
}

export interface DeliveryLogEntry extends AlertDelivery {
  event: AlertEvent;
  /** null once the channel was deleted. */
  channelName: string | null;
  channelKind: AlertChannelKind | null;
}

export interface DeliveryAttempt {
  at: number;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  /** When to try again; null when there is no next attempt (delivered, or given up). */
  nextAttemptAt: number | null;
}

/** Priced cost of one subject (a token or a model) in one UTC hour. */
export interface HourlyCost {
  /** `token:<id>` or `model:<provider>/<model>`. */
  subject: string;
  label: string;
  hourStart: number;
  costNanoUsd: number;
}

/**
 * Alert channels, the outbox of alerts to deliver, and the delivery log. An alert and its outbox
 * rows are written in one transaction; the sender marks each delivery as it goes.
 */
export interface AlertStore {
  listChannels(): Promise<AlertChannel[]>;
  getChannel(id: number): Promise<AlertChannel | undefined>;
  createChannel(input: NewAlertChannel, nowMs: number): Promise<AlertChannel>;
  updateChannel(id: number, input: NewAlertChannel): Promise<AlertChannel | undefined>;
  /** Pending deliveries to the channel fail ("channel deleted"); the log keeps them. */
  deleteChannel(id: number, nowMs: number): Promise<boolean>;
  /**
   * Records the alert and one pending delivery per target channel (null: every enabled channel),
   * due at once. Undefined, writing nothing, when an alert with the same dedupeKey exists.
   */
  recordEvent(
    event: NewAlertEvent,
    channelIds: readonly number[] | null,
  ): Promise<{ eventId: number; deliveryIds: number[] } | undefined>;
  /** Pending deliveries due at nowMs, oldest first. */
  dueDeliveries(nowMs: number, limit: number): Promise<DueDelivery[]>;
  getDelivery(id: number): Promise<DeliveryLogEntry | undefined>;
  recordAttempt(deliveryId: number, attempt: DeliveryAttempt): Promise<void>;
  /** Newest first, before `beforeId` when given. */
  listDeliveries(limit: number, beforeId?: number): Promise<DeliveryLogEntry[]>;
  /** Newest first, before `beforeId` when given. */
  listEvents(limit: number, beforeId?: number): Promise<AlertEvent[]>;
  /** The saved alert settings (JSON text), or undefined when never saved. */
  readSettings(): Promise<string | undefined>;
  saveSettings(document: string, nowMs: number): Promise<void>;
  /** Cost per tracking token or per model and UTC hour in [startMs, endMs), from the rollups. */
  hourlyCosts(by: 'token' | 'model', startMs: number, endMs: number): Promise<HourlyCost[]>;
  /** Models with unpriced requests in [startMs, endMs), from the rollups. */
  unpricedModels(
    startMs: number,
    endMs: number,
  ): Promise<{ provider: string; model: string; requests: number }[]>;
}
