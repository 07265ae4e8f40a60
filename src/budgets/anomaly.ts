import type { HourlyCost } from '../storage/store.js';
import { HOUR_MS } from './window.js';

/**
 * Spend anomalies (pure): an hour in which a token or a model costs far more than it usually
 * does at that hour of the week, the sign of a runaway loop or of prompts that grew.
 *
 * For each subject, from the `baselineWeeks` weeks of UTC hours before the current hour:
 * - expected: the median of the same hour of the week over those weeks;
 * - spread: 1.4826 x the median absolute deviation of every baseline hour from the median of the
 *   same hour in the other weeks (a robust standard deviation), and at least half the subject's
 *   mean hourly cost, so that a very regular or mostly idle subject does not alert on small moves;
 * - threshold: expected + sensitivity x spread.
 * The current hour is an anomaly once its cost so far is above the threshold and at least the
 * minimum hourly cost. A subject needs 24 hours with spend in its baseline to have a usual level.
 */

export interface AnomalyOptions {
  sensitivity: number;
  minHourlyNanoUsd: number;
  baselineWeeks: number;
}

export interface Baseline {
  subject: string;
  label: string;
  expectedNanoUsd: number;
  thresholdNanoUsd: number;
}

export interface Anomaly extends Baseline {
  hourStartMs: number;
  costNanoUsd: number;
}

export const MIN_ACTIVE_HOURS = 24;
const WEEK_HOURS = 168;

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** The threshold of every subject for the hour that starts at currentHourMs. */
export function baselines(
  costs: readonly HourlyCost[],
  currentHourMs: number,
  options: Pick<AnomalyOptions, 'sensitivity' | 'baselineWeeks'>,
): Map<string, Baseline> {
  const hours = options.baselineWeeks * WEEK_HOURS;
  const startMs = currentHourMs - hours * HOUR_MS;
  const series = new Map<string, { label: string; values: Float64Array }>();
  for (const cost of costs) {
    const index = Math.floor((cost.hourStart - startMs) / HOUR_MS);
    if (index < 0 || index >= hours) continue;
    let entry = series.get(cost.subject);
    if (!entry) {
      entry = { label: cost.label, values: new Float64Array(hours) };
      series.set(cost.subject, entry);
    }
    entry.values[index] = (entry.values[index] ?? 0) + cost.costNanoUsd;
  }
  const result = new Map<string, Baseline>();
  for (const [subject, { label, values }] of series) {
    let active = 0;
    let total = 0;
    for (const value of values) {
      if (value > 0) active += 1;
      total += value;
    }
    if (active < MIN_ACTIVE_HOURS) continue;
    // Index i has the hour of the week i % 168, counted from startMs (a whole number of weeks back).
    // Each hour deviates from the median of the same hour in the other weeks (leaving it out keeps
    // a few weeks' median from fitting the very values it is compared with).
    const deviations: number[] = [];
    let expected = 0;
    for (let k = 0; k < WEEK_HOURS; k += 1) {
      const samples: number[] = [];
      for (let i = k; i < hours; i += WEEK_HOURS) samples.push(values[i] ?? 0);
      if (k === 0) expected = median(samples);
      for (let w = 0; w < samples.length; w += 1) {
        const others = samples.length > 1 ? samples.filter((_, j) => j !== w) : samples;
        deviations.push(Math.abs((samples[w] ?? 0) - median(others)));
      }
    }
    const spread = Math.max(1.4826 * median(deviations), 0.5 * (total / hours));
    result.set(subject, {
      subject,
      label,
      expectedNanoUsd: Math.round(expected),
      thresholdNanoUsd: Math.round(expected + options.sensitivity * spread),
    });
  }
  return result;
}

/** The subjects whose cost in the current hour so far is an anomaly. */
export function findAnomalies(
  baseline: ReadonlyMap<string, Baseline>,
  current: readonly HourlyCost[],
  currentHourMs: number,
  options: Pick<AnomalyOptions, 'minHourlyNanoUsd'>,
): Anomaly[] {
  const totals = new Map<string, number>();
  for (const cost of current) {
    if (cost.hourStart !== currentHourMs) continue;
    totals.set(cost.subject, (totals.get(cost.subject) ?? 0) + cost.costNanoUsd);
  }
  const found: Anomaly[] = [];
  for (const [subject, costNanoUsd] of totals) {
    const usual = baseline.get(subject);
    if (!usual) continue;
    if (costNanoUsd > usual.thresholdNanoUsd && costNanoUsd >= options.minHourlyNanoUsd) {
      found.push({ ...usual, hourStartMs: currentHourMs, costNanoUsd });
    }
  }
  return found.sort((a, b) => (a.subject < b.subject ? -1 : 1));
}
