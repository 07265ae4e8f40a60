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

export type InsertOutcome = { status: 'created'; id: number } | { status: 'duplicate'; id: number };

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

export interface Store {
  /** Throws when the database cannot answer a trivial query. */
  ping(): Promise<void>;
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
   * encoding work happens off the thread that answers ingest.
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
   * THE one way a stored cost changes. Atomically, for each change whose row still has exactly
   * `old` pricing: writes `new` and records the change under the run (with both values, so it can
   * be inspected and undone), and adds to the run's totals. A row whose pricing moved since it
   * was read is skipped, never overwritten. Anything derived from costs (rollups) must be
   * maintained here, in the same transaction.
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
