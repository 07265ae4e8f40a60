import type { ProviderReportStore, ReportProvider } from '../storage/provider-reports.js';
import { dayOf } from './reconcile.js';

/**
 * Zero-code spend: what the providers' own reports say was used and spent, per day, model,
 * project or API key, with nothing pushed to Cost Guardian. `reportedCostNanoUsd` comes from the
 * cost reports (whose lines name a project and a model, and for OpenAI a key; Anthropic's cost
 * report has no key, so per key its cost is under ''), `estimatedCostNanoUsd` is the usage report
 * at our prices.
 */

export type SpendGroup = 'day' | 'model' | 'project' | 'api_key';

export interface SpendRow {
  key: string;
  provider: ReportProvider;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reportedCostNanoUsd: number;
  estimatedCostNanoUsd: number;
  /** Usage rows whose model has no price here (their estimate counts as 0). */
  unpricedBuckets: number;
}

export async function reportSpend(
  reports: ProviderReportStore,
  range: { startMs: number; endMs: number; provider?: ReportProvider },
  group: SpendGroup,
): Promise<SpendRow[]> {
  const [usage, costs] = await Promise.all([
    reports.listReportedUsage(range),
    reports.listReportedCosts(range),
  ]);
  const keyOf = (row: { bucketStartMs: number; model: string; projectId: string; apiKeyId: string }) =>
    group === 'day'
      ? dayOf(row.bucketStartMs)
      : group === 'model'
        ? row.model
        : group === 'project'
          ? row.projectId
          : row.apiKeyId;
  const rows = new Map<string, SpendRow>();
  const rowFor = (provider: ReportProvider, key: string) => {
    const id = `${provider}\u0000${key}`;
    let row = rows.get(id);
    if (!row) {
      row = {
        key,
        provider,
        requests: 0,
        promptTokens: 0,
        completionTokens: 0,
        cachedTokens: 0,
        reportedCostNanoUsd: 0,
        estimatedCostNanoUsd: 0,
        unpricedBuckets: 0,
      };
      rows.set(id, row);
    }
    return row;
  };
  for (const bucket of usage) {
    const row = rowFor(bucket.provider, keyOf(bucket));
    row.requests += bucket.requests;
    row.promptTokens += bucket.promptTokens;
    row.completionTokens += bucket.completionTokens;
    row.cachedTokens += bucket.cachedTokens;
    if (bucket.estimatedCostNanoUsd === null) row.unpricedBuckets += 1;
    else row.estimatedCostNanoUsd += bucket.estimatedCostNanoUsd;
  }
  for (const cost of costs) rowFor(cost.provider, keyOf(cost)).reportedCostNanoUsd += cost.costNanoUsd;
  const sorted = [...rows.values()];
  if (group === 'day')
    sorted.sort((a, b) => a.key.localeCompare(b.key) || a.provider.localeCompare(b.provider));
  else
    sorted.sort(
      (a, b) =>
        b.reportedCostNanoUsd + b.estimatedCostNanoUsd - (a.reportedCostNanoUsd + a.estimatedCostNanoUsd) ||
        a.key.localeCompare(b.key),
    );
  return sorted;
}
