import type Database from 'better-sqlite3';
import type {
  ProjectTokenMapping,
  ProviderReportStore,
  RaisedDrift,
  ReportedCost,
  ReportedUsage,
  ReportedUsageFilter,
  ReportSyncState,
} from '../provider-reports.js';
import type { WriteQueue } from './write-queue.js';

const USAGE_COLUMNS = `provider, report, bucket_start AS bucketStartMs, bucket_end AS bucketEndMs, model,
  project_id AS projectId, api_key_id AS apiKeyId, service_tier AS serviceTier, batch, requests,
  prompt_tokens AS promptTokens, completion_tokens AS completionTokens, cached_tokens AS cachedTokens,
  cache_write_tokens AS cacheWriteTokens, cache_write_extended_tokens AS cacheWriteExtendedTokens,
  input_audio_tokens AS inputAudioTokens, output_audio_tokens AS outputAudioTokens,
  estimated_cost_nanousd AS estimatedCostNanoUsd`;
const COST_COLUMNS = `provider, bucket_start AS bucketStartMs, bucket_end AS bucketEndMs, project_id AS projectId,
  api_key_id AS apiKeyId, line_item AS lineItem, model, cost_nanousd AS costNanoUsd`;
const STATE_COLUMNS = `provider, report, synced_through AS syncedThroughMs, last_run_at AS lastRunAt,
  last_success_at AS lastSuccessAt, last_error AS lastError`;

/** The provider-report part of the SQLite store; writes go through the group-commit queue. */
export function createProviderReportMethods(db: Database.Database, writes: WriteQueue): ProviderReportStore {
  const deleteUsage = db.prepare(
    'DELETE FROM provider_usage_buckets WHERE provider = ? AND report = ? AND bucket_start = ?',
  );
  const insertUsage = db.prepare(`INSERT INTO provider_usage_buckets (provider, report, bucket_start,
    bucket_end, model, project_id, api_key_id, service_tier, batch, requests, prompt_tokens, completion_tokens,
    cached_tokens, cache_write_tokens, cache_write_extended_tokens, input_audio_tokens, output_audio_tokens,
    estimated_cost_nanousd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET requests = requests + excluded.requests,
      prompt_tokens = prompt_tokens + excluded.prompt_tokens,
      completion_tokens = completion_tokens + excluded.completion_tokens,
      cached_tokens = cached_tokens + excluded.cached_tokens,
      cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
      cache_write_extended_tokens = cache_write_extended_tokens + excluded.cache_write_extended_tokens,
      input_audio_tokens = input_audio_tokens + excluded.input_audio_tokens,
      output_audio_tokens = output_audio_tokens + excluded.output_audio_tokens,
      estimated_cost_nanousd = estimated_cost_nanousd + excluded.estimated_cost_nanousd`);
  const deleteCost = db.prepare('DELETE FROM provider_cost_buckets WHERE provider = ? AND bucket_start = ?');
  const insertCost = db.prepare(`INSERT INTO provider_cost_buckets (provider, bucket_start, bucket_end,
    project_id, api_key_id, line_item, model, cost_nanousd) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET cost_nanousd = cost_nanousd + excluded.cost_nanousd`);
  const upsertState = db.prepare(`INSERT INTO provider_report_sync (provider, report, synced_through,
    last_run_at, last_success_at, last_error) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (provider, report) DO UPDATE SET synced_through = excluded.synced_through,
      last_run_at = excluded.last_run_at, last_success_at = excluded.last_success_at,
      last_error = excluded.last_error`);
  const listStates = db.prepare(
    `SELECT ${STATE_COLUMNS} FROM provider_report_sync ORDER BY provider, report`,
  );
  const usageBetween = db.prepare(`SELECT ${USAGE_COLUMNS} FROM provider_usage_buckets
    WHERE bucket_start >= ? AND bucket_start < ? AND (? IS NULL OR provider = ?)
    ORDER BY bucket_start, provider, report, model, project_id, api_key_id`);
  const costsBetween = db.prepare(`SELECT ${COST_COLUMNS} FROM provider_cost_buckets
    WHERE bucket_start >= ? AND bucket_start < ? AND (? IS NULL OR provider = ?)
    ORDER BY bucket_start, provider, project_id, line_item`);
  const listMappings = db.prepare(`SELECT provider, project_id AS projectId, ingest_token_id AS ingestTokenId
    FROM provider_project_tokens ORDER BY provider, project_id`);
  const upsertMapping =
    db.prepare(`INSERT INTO provider_project_tokens (provider, project_id, ingest_token_id)
    VALUES (?, ?, ?) ON CONFLICT (provider, project_id) DO UPDATE SET ingest_token_id = excluded.ingest_token_id`);
  const deleteMapping = db.prepare(
    'DELETE FROM provider_project_tokens WHERE provider = ? AND project_id = ?',
  );
  const findDrift = db.prepare(`SELECT alert_key AS key, drift_nanousd AS driftNanoUsd, raised_at AS raisedAt
    FROM provider_drift_alerts WHERE alert_key = ?`);
  const upsertDrift = db.prepare(`INSERT INTO provider_drift_alerts (alert_key, drift_nanousd, raised_at)
    VALUES (?, ?, ?) ON CONFLICT (alert_key) DO UPDATE SET drift_nanousd = excluded.drift_nanousd,
    raised_at = excluded.raised_at`);

  const writeState = (state: ReportSyncState) =>
    upsertState.run(
      state.provider,
      state.report,
      state.syncedThroughMs,
      state.lastRunAt,
      state.lastSuccessAt,
      state.lastError,
    );

  return {
    replaceUsageBuckets(provider, report, bucketStartsMs, rows, state) {
      return writes.enqueue(
        () => {
          for (const start of bucketStartsMs) deleteUsage.run(provider, report, start);
          for (const row of rows) {
            insertUsage.run(
              row.provider,
              row.report,
              row.bucketStartMs,
              row.bucketEndMs,
              row.model,
              row.projectId,
              row.apiKeyId,
              row.serviceTier,
              row.batch ? 1 : 0,
              row.requests,
              row.promptTokens,
              row.completionTokens,
              row.cachedTokens,
              row.cacheWriteTokens,
              row.cacheWriteExtendedTokens,
              row.inputAudioTokens,
              row.outputAudioTokens,
              row.estimatedCostNanoUsd,
            );
          }
          writeState(state);
        },
        Math.max(1, rows.length),
      );
    },

    replaceCostBuckets(provider, bucketStartsMs, rows, state) {
      return writes.enqueue(
        () => {
          for (const start of bucketStartsMs) deleteCost.run(provider, start);
          for (const row of rows) {
            insertCost.run(
              row.provider,
              row.bucketStartMs,
              row.bucketEndMs,
              row.projectId,
              row.apiKeyId,
              row.lineItem,
              row.model,
              row.costNanoUsd,
            );
          }
          writeState(state);
        },
        Math.max(1, rows.length),
      );
    },

    saveSyncState(state) {
      return writes.enqueue(() => {
        writeState(state);
      });
    },

    async listSyncStates() {
      return listStates.all() as ReportSyncState[];
    },

    async listReportedUsage(filter: ReportedUsageFilter) {
      const provider = filter.provider ?? null;
      const rows = usageBetween.all(filter.startMs, filter.endMs, provider, provider) as (Omit<
        ReportedUsage,
        'batch'
      > & { batch: number })[];
      return rows.map((row) => ({ ...row, batch: row.batch === 1 }));
    },

    async listReportedCosts(filter: ReportedUsageFilter) {
      const provider = filter.provider ?? null;
      return costsBetween.all(filter.startMs, filter.endMs, provider, provider) as ReportedCost[];
    },

    async listProjectTokens() {
      return listMappings.all() as ProjectTokenMapping[];
    },

    setProjectToken(provider, projectId, ingestTokenId) {
      return writes.enqueue(() => {
        if (ingestTokenId === null) deleteMapping.run(provider, projectId);
        else upsertMapping.run(provider, projectId, ingestTokenId);
      });
    },

    async findRaisedDrift(key: string) {
      return findDrift.get(key) as RaisedDrift | undefined;
    },

    saveRaisedDrift(drift: RaisedDrift) {
      return writes.enqueue(() => {
        upsertDrift.run(drift.key, drift.driftNanoUsd, drift.raisedAt);
      });
    },
  };
}
