import { nanoToUsd } from '../lib/money.js';
import { formatIsoTime } from '../lib/time.js';
import type { RepriceScope } from '../storage/store.js';
import type { RepriceResult } from './reprice-service.js';

/**
 * How a reprice result looks outside the service: the body of POST /prices/reprice (and of its
 * undo), and what `cost-guardian reprice --json` prints, so that a script can read either.
 */

function money(totals: { oldTotalNanoUsd: number; newTotalNanoUsd: number }) {
  const delta = totals.newTotalNanoUsd - totals.oldTotalNanoUsd;
  return {
    old_total_usd: nanoToUsd(totals.oldTotalNanoUsd),
    new_total_usd: nanoToUsd(totals.newTotalNanoUsd),
    delta_usd: nanoToUsd(delta),
    old_total_nanousd: totals.oldTotalNanoUsd,
    new_total_nanousd: totals.newTotalNanoUsd,
    delta_nanousd: delta,
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? null : formatIsoTime(ms));

export function repriceScopeBody(scope: RepriceScope) {
  return { model: scope.model ?? null, start: iso(scope.startMs), end: iso(scope.endMs) };
}

export function repriceResultBody(result: RepriceResult) {
  return {
    dry_run: result.dryRun,
    scope: repriceScopeBody(result.scope),
    rows: result.rows,
    changed: result.changed,
    provider_moves: result.providerMoves,
    skipped: result.skipped,
    unpriced_before: result.unpricedBefore,
    unpriced_after: result.unpricedAfter,
    ...money(result),
    by_model: result.byModel.map((entry) => ({
      provider: entry.provider,
      model: entry.model,
      rows: entry.rows,
      changed: entry.changed,
      unpriced_before: entry.unpricedBefore,
      unpriced_after: entry.unpricedAfter,
      ...money(entry),
    })),
    audit_id: result.auditId,
    price_sources: [...result.priceSources],
  };
}
