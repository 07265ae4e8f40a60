import type {
  ProviderReportStore,
  ReportedCost,
  ReportedUsage,
  ReportProvider,
} from '../storage/provider-reports.js';
import type { Store } from '../storage/store.js';
import { listCells, type UsageTotals } from '../storage/usage-aggregate.js';

/**
 * Reconciliation: per UTC day and model (and per provider project mapped to a tracking token),
 * the usage pushed to Cost Guardian (usage rows, read from the rollups) against what the provider
 * reports. The provider's cost is its cost report where a line names the model; otherwise its
 * usage report priced at our prices ('estimated'). Drift is reported minus pushed, in tokens and
 * dollars, and as a share of the reported amount.
 */

export const DAY_MS = 86_400_000;

export interface ReconcileSide {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costNanoUsd: number;
}

export interface ReconciliationRow {
  day: string;
  provider: ReportProvider;
  model: string;
  /** Set on the per-project rows; null on the organisation-wide rows. */
  projectId: string | null;
  ingestTokenId: number | null;
  pushed: ReconcileSide;
  reported: ReconcileSide & { costSource: 'reported' | 'estimated' | 'none' };
  driftTokens: number;
  driftTokensPercent: number | null;
  driftNanoUsd: number;
  driftPercent: number | null;
}

export interface ReconcileRange {
  /** Whole UTC days: startMs at midnight, endMs exclusive. */
  startMs: number;
  endMs: number;
  provider?: ReportProvider;
}

const PROVIDERS: readonly ReportProvider[] = ['openai', 'anthropic'];

export const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const startOfDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

const emptySide = (): ReconcileSide => ({
  requests: 0,
  promptTokens: 0,
  completionTokens: 0,
  costNanoUsd: 0,
});

function percent(drift: number, base: number): number | null {
  return base === 0 ? null : Math.round((drift / base) * 10_000) / 100;
}

interface Cell {
  pushed: ReconcileSide;
  reported: ReconcileSide;
  estimatedNanoUsd: number;
  costLines: number;
}

/** Cells keyed by day and model, for one scope (organisation or one project). */
class Cells {
  readonly map = new Map<string, Cell>();
  cell(day: string, model: string): Cell {
    const key = `${day}\u0000${model}`;
    let cell = this.map.get(key);
    if (!cell) {
      cell = { pushed: emptySide(), reported: emptySide(), estimatedNanoUsd: 0, costLines: 0 };
      this.map.set(key, cell);
    }
    return cell;
  }
}

function addPushed(cells: Cells, days: string[], result: Awaited<ReturnType<Store['aggregateUsage']>>): void {
  for (const { interval, group, totals } of listCells(result)) {
    const day = days[interval];
    if (day === undefined || group === null) continue;
    const side = cells.cell(day, group.toLowerCase()).pushed;
    addTotals(side, totals);
  }
}

function addTotals(side: ReconcileSide, totals: UsageTotals): void {
  side.requests += totals.requests;
  side.promptTokens += totals.promptTokens;
  side.completionTokens += totals.completionTokens;
  side.costNanoUsd += totals.costNanoUsd;
}

function addReported(cells: Cells, usage: readonly ReportedUsage[], costs: readonly ReportedCost[]): void {
  for (const row of usage) {
    if (row.model === '') continue;
    const cell = cells.cell(dayOf(row.bucketStartMs), row.model.toLowerCase());
    cell.reported.requests += row.requests;
    cell.reported.promptTokens += row.promptTokens;
    cell.reported.completionTokens += row.completionTokens;
    cell.estimatedNanoUsd += row.estimatedCostNanoUsd ?? 0;
  }
  for (const row of costs) {
    if (row.model === '') continue;
    const cell = cells.cell(dayOf(row.bucketStartMs), row.model);
    cell.reported.costNanoUsd += row.costNanoUsd;
    cell.costLines += 1;
  }
}

function toRows(cells: Cells, provider: ReportProvider, projectId: string | null, tokenId: number | null) {
  const rows: ReconciliationRow[] = [];
  for (const [key, cell] of cells.map) {
    const [day = '', model = ''] = key.split('\u0000');
    const hasUsage = cell.reported.promptTokens + cell.reported.completionTokens > 0;
    const costSource = cell.costLines > 0 ? 'reported' : hasUsage ? 'estimated' : 'none';
    const reportedCost = costSource === 'estimated' ? cell.estimatedNanoUsd : cell.reported.costNanoUsd;
    const reportedTokens = cell.reported.promptTokens + cell.reported.completionTokens;
    const driftTokens = reportedTokens - (cell.pushed.promptTokens + cell.pushed.completionTokens);
    const driftNanoUsd = reportedCost - cell.pushed.costNanoUsd;
    rows.push({
      day,
      provider,
      model,
      projectId,
      ingestTokenId: tokenId,
      pushed: cell.pushed,
      reported: { ...cell.reported, costNanoUsd: reportedCost, costSource },
      driftTokens,
      driftTokensPercent: percent(driftTokens, reportedTokens),
      driftNanoUsd,
      driftPercent: percent(driftNanoUsd, reportedCost),
    });
  }
  return rows;
}

export async function reconcile(
  deps: { store: Pick<Store, 'aggregateUsage'> & { reports: ProviderReportStore } },
  range: ReconcileRange,
): Promise<ReconciliationRow[]> {
  const { store } = deps;
  const intervals: { startMs: number; endMs: number }[] = [];
  for (let start = range.startMs; start < range.endMs; start += DAY_MS)
    intervals.push({ startMs: start, endMs: start + DAY_MS });
  const days = intervals.map((interval) => dayOf(interval.startMs));
  const window = { startMs: range.startMs, endMs: range.endMs };
  const mappings = await store.reports.listProjectTokens();
  const rows: ReconciliationRow[] = [];

  for (const provider of range.provider ? [range.provider] : PROVIDERS) {
    const [usage, costs] = await Promise.all([
      store.reports.listReportedUsage({ ...window, provider }),
      store.reports.listReportedCosts({ ...window, provider }),
    ]);
    const organisation = new Cells();
    addReported(organisation, usage, costs);
    if (intervals.length > 0) {
      const pushed = await store.aggregateUsage({
        filter: { provider },
        intervals,
        groupBy: { kind: 'model' },
        measures: ['requests', 'promptTokens', 'completionTokens', 'costNanoUsd'],
      });
      addPushed(organisation, days, pushed);
    }
    // Nothing tracked and nothing reported for a provider means it is not used: no rows.
    rows.push(...toRows(organisation, provider, null, null));

    for (const mapping of mappings.filter((m) => m.provider === provider)) {
      const project = new Cells();
      addReported(
        project,
        usage.filter((row) => row.projectId === mapping.projectId),
        costs.filter((row) => row.projectId === mapping.projectId),
      );
      if (intervals.length > 0) {
        const pushed = await store.aggregateUsage({
          filter: { provider, ingestTokenId: mapping.ingestTokenId },
          intervals,
          groupBy: { kind: 'model' },
          measures: ['requests', 'promptTokens', 'completionTokens', 'costNanoUsd'],
        });
        addPushed(project, days, pushed);
      }
      rows.push(...toRows(project, provider, mapping.projectId, mapping.ingestTokenId));
    }
  }
  return rows.sort(
    (a, b) =>
      a.day.localeCompare(b.day) ||
      a.provider.localeCompare(b.provider) ||
      (a.projectId ?? '').localeCompare(b.projectId ?? '') ||
      a.model.localeCompare(b.model),
  );
}
