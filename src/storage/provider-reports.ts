/**
 * The provider-report part of the storage contract: usage and cost buckets that OpenAI and
 * Anthropic report through their admin APIs, kept apart from pushed usage (usage_log) so that
 * nothing ever adds the two together; reconciliation compares them.
 *
 * Rules every implementation keeps:
 * - replaceUsageBuckets / replaceCostBuckets replace, atomically, every stored row of each bucket
 *   start they are given (for that provider and report): a bucket pulled again (provider data
 *   settles for a day or two) ends up exactly as the provider answered the second time, with no
 *   row left over from the first answer. The sync state given with them commits in the same
 *   transaction, so a run that stops half way resumes after the last bucket written.
 * - Writes go through the same serialised writer as ingest (never a second writer), in small
 *   transactions (one page of a report each), so a long backfill never holds ingest up.
 * - Reads of these tables are small (one row per day, model, project, key) and may run on the
 *   writer's connection.
 */

export type ReportProvider = 'openai' | 'anthropic';
/** Which report a usage row came from: OpenAI's completions/embeddings, Anthropic's messages. */
export type UsageReportKind = 'completions' | 'embeddings' | 'messages';
/** Sync state is kept per (provider, report); cost reports are 'costs'. */
export type ReportKind = UsageReportKind | 'costs';

/** Token buckets in our convention (tokens.ts): prompt includes cached and cache-write tokens. */
export interface ReportedUsage {
  provider: ReportProvider;
  report: UsageReportKind;
  bucketStartMs: number;
  bucketEndMs: number;
  /** '' when the report did not name one (not grouped, or the provider left it null). */
  model: string;
  /** OpenAI project_id, Anthropic workspace_id. */
  projectId: string;
  apiKeyId: string;
  serviceTier: string;
  batch: boolean;
  /** Calls counted by the provider (OpenAI); 0 when it does not report them (Anthropic). */
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  cacheWriteExtendedTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  /** These tokens at our prices (null: the model is unpriced); used where no cost is reported. */
  estimatedCostNanoUsd: number | null;
}

export interface ReportedCost {
  provider: ReportProvider;
  bucketStartMs: number;
  bucketEndMs: number;
  projectId: string;
  apiKeyId: string;
  /** The provider's own name of the line: OpenAI line_item, Anthropic description (with its tier). */
  lineItem: string;
  /** The model the line is for, when it names one; '' otherwise (web search, storage, ...). */
  model: string;
  costNanoUsd: number;
}

export interface ReportSyncState {
  provider: ReportProvider;
  report: ReportKind;
  /** Buckets that start before this (UTC ms) are stored; the next run starts a little earlier. */
  syncedThroughMs: number | null;
  lastRunAt: number | null;
  lastSuccessAt: number | null;
  /** Why the last run failed (never containing a key); null after a success. */
  lastError: string | null;
}

/** A provider project (OpenAI project, Anthropic workspace) attributed to one tracking token. */
export interface ProjectTokenMapping {
  provider: ReportProvider;
  projectId: string;
  ingestTokenId: number;
}

export interface ReportedUsageFilter {
  provider?: ReportProvider;
  /** Inclusive lower and exclusive upper bound on the bucket start. */
  startMs: number;
  endMs: number;
}

/** A drift alert already raised, so that the next sync does not raise it again. */
export interface RaisedDrift {
  key: string;
  driftNanoUsd: number;
  raisedAt: number;
}

export interface ProviderReportStore {
  replaceUsageBuckets(
    provider: ReportProvider,
    report: UsageReportKind,
    bucketStartsMs: readonly number[],
    rows: readonly ReportedUsage[],
    state: ReportSyncState,
  ): Promise<void>;
  replaceCostBuckets(
    provider: ReportProvider,
    bucketStartsMs: readonly number[],
    rows: readonly ReportedCost[],
    state: ReportSyncState,
  ): Promise<void>;
  saveSyncState(state: ReportSyncState): Promise<void>;
  listSyncStates(): Promise<ReportSyncState[]>;
  listReportedUsage(filter: ReportedUsageFilter): Promise<ReportedUsage[]>;
  listReportedCosts(filter: ReportedUsageFilter): Promise<ReportedCost[]>;
  listProjectTokens(): Promise<ProjectTokenMapping[]>;
  /** `ingestTokenId` null removes the mapping. */
  setProjectToken(provider: ReportProvider, projectId: string, ingestTokenId: number | null): Promise<void>;
  findRaisedDrift(key: string): Promise<RaisedDrift | undefined>;
  saveRaisedDrift(drift: RaisedDrift): Promise<void>;
}
