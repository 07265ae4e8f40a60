import type { Budget, NewAlertEvent } from '../storage/store.js';
import type { WindowSpan } from './window.js';

/**
 * What each kind of alert records (pure). The payload is stored as JSON with the alert, in exact
 * units (ms, nano-dollars), with the numbers of the moment it fired; channels render it
 * (alert-messages.ts). The dedupe key makes each alert fire once, ever: a threshold once per
 * budget, window and threshold; a forecast overrun once per budget and window; an anomaly once
 * per subject and hour; an unpriced model once per model and UTC day; a provider drift once per
 * provider, day, model, project and drift amount (a changed drift alerts again).
 */

export interface BudgetRef {
  budgetId: number;
  budgetName: string;
  limitNanoUsd: number;
  windowStartMs: number;
  windowEndMs: number;
}

export type AlertPayload =
  | (BudgetRef & {
      kind: 'threshold';
      thresholdBp: number;
      spentNanoUsd: number;
      unpricedRequests: number;
    })
  | (BudgetRef & {
      kind: 'forecast';
      spentNanoUsd: number;
      projectedNanoUsd: number;
      lowNanoUsd: number;
      highNanoUsd: number;
      /** When the limit is projected to be reached; null if not within the window. */
      limitReachedAtMs: number | null;
    })
  | {
      kind: 'anomaly';
      /** `token:<id>` or `model:<provider>/<model>`. */
      subject: string;
      label: string;
      hourStartMs: number;
      costNanoUsd: number;
      /** The usual cost of this hour of the week, and the cost above which it is an anomaly. */
      expectedNanoUsd: number;
      thresholdNanoUsd: number;
    }
  | { kind: 'unpriced'; provider: string; model: string; dayStartMs: number; requests: number }
  | {
      kind: 'drift';
      provider: string;
      /** UTC day, YYYY-MM-DD. */
      day: string;
      model: string;
      projectId: string | null;
      pushedCostNanoUsd: number;
      reportedCostNanoUsd: number;
      reportedCostSource: 'reported' | 'estimated';
      /** reported - pushed. */
      driftNanoUsd: number;
      driftPercent: number | null;
    }
  | { kind: 'test'; channelId: number; channelName: string };

function budgetRef(budget: Budget, window: WindowSpan): BudgetRef {
  return {
    budgetId: budget.id,
    budgetName: budget.name,
    limitNanoUsd: budget.limitNanoUsd,
    windowStartMs: window.startMs,
    windowEndMs: window.endMs,
  };
}

export function thresholdAlert(
  budget: Budget,
  window: WindowSpan,
  thresholdBp: number,
  spent: { costNanoUsd: number; unpricedRequests: number },
  nowMs: number,
): NewAlertEvent {
  const payload: AlertPayload = {
    kind: 'threshold',
    ...budgetRef(budget, window),
    thresholdBp,
    spentNanoUsd: spent.costNanoUsd,
    unpricedRequests: spent.unpricedRequests,
  };
  return {
    kind: 'threshold',
    dedupeKey: `threshold:${budget.id}:${window.startMs}:${thresholdBp}`,
    budgetId: budget.id,
    createdAt: nowMs,
    payload: JSON.stringify(payload),
  };
}

/** The dedupe-key prefix of a budget's threshold alerts in one window. */
export function thresholdKeyPrefix(budgetId: number, windowStartMs: number): string {
  return `threshold:${budgetId}:${windowStartMs}:`;
}

export function forecastAlert(
  budget: Budget,
  window: WindowSpan,
  forecast: {
    spentNanoUsd: number;
    projectedNanoUsd: number;
    lowNanoUsd: number;
    highNanoUsd: number;
    limitReachedAtMs: number | null;
  },
  nowMs: number,
): NewAlertEvent {
  const payload: AlertPayload = { kind: 'forecast', ...budgetRef(budget, window), ...forecast };
  return {
    kind: 'forecast',
    dedupeKey: `forecast:${budget.id}:${window.startMs}`,
    budgetId: budget.id,
    createdAt: nowMs,
    payload: JSON.stringify(payload),
  };
}

export function anomalyAlert(
  anomaly: Omit<Extract<AlertPayload, { kind: 'anomaly' }>, 'kind'>,
  nowMs: number,
): NewAlertEvent {
  const payload: AlertPayload = { kind: 'anomaly', ...anomaly };
  return {
    kind: 'anomaly',
    dedupeKey: `anomaly:${anomaly.subject}:${anomaly.hourStartMs}`,
    budgetId: null,
    createdAt: nowMs,
    payload: JSON.stringify(payload),
  };
}

export function unpricedAlert(
  unpriced: Omit<Extract<AlertPayload, { kind: 'unpriced' }>, 'kind'>,
  nowMs: number,
): NewAlertEvent {
  const payload: AlertPayload = { kind: 'unpriced', ...unpriced };
  return {
    kind: 'unpriced',
    dedupeKey: `unpriced:${unpriced.provider}/${unpriced.model}:${unpriced.dayStartMs}`,
    budgetId: null,
    createdAt: nowMs,
    payload: JSON.stringify(payload),
  };
}

/** A provider report disagrees with the tracked usage (reports/reconcile: a DriftEvent). */
export function driftAlert(
  drift: Omit<Extract<AlertPayload, { kind: 'drift' }>, 'kind'>,
  nowMs: number,
): NewAlertEvent {
  const payload: AlertPayload = {
    kind: 'drift',
    provider: drift.provider,
    day: drift.day,
    model: drift.model,
    projectId: drift.projectId,
    pushedCostNanoUsd: drift.pushedCostNanoUsd,
    reportedCostNanoUsd: drift.reportedCostNanoUsd,
    reportedCostSource: drift.reportedCostSource,
    driftNanoUsd: drift.driftNanoUsd,
    driftPercent: drift.driftPercent,
  };
  return {
    kind: 'drift',
    dedupeKey: `drift:${drift.provider}:${drift.day}:${drift.model}:${drift.projectId ?? ''}:${drift.driftNanoUsd}`,
    budgetId: null,
    createdAt: nowMs,
    payload: JSON.stringify(payload),
  };
}

export function testAlert(
  channel: { id: number; name: string },
  nowMs: number,
  nonce: string,
): NewAlertEvent {
  const payload: AlertPayload = { kind: 'test', channelId: channel.id, channelName: channel.name };
  return {
    kind: 'test',
    dedupeKey: `test:${channel.id}:${nowMs}:${nonce}`,
    budgetId: null,
    createdAt: nowMs,
    payload: JSON.stringify(payload),
  };
}

export function parsePayload(text: string): AlertPayload {
  return JSON.parse(text) as AlertPayload;
}
