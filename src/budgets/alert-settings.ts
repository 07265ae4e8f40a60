import { AppError } from '../errors.js';

/**
 * The tunable alert rules, saved in the database (GET/PUT /budgets/alert-settings) so that they can
 * be changed without a restart. Missing fields take the defaults.
 */
export interface AlertSettings {
  anomaly: {
    enabled: boolean;
    /** How many robust standard deviations (1.4826 x MAD) above its usual level an hour must be. */
    sensitivity: number;
    /** An hour must cost at least this much to be an anomaly (no alerts about cents). */
    minHourlyUsd: number;
    /** Weeks of history that make the usual level of each hour of the week. */
    baselineWeeks: number;
  };
  unpriced: { enabled: boolean };
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  anomaly: { enabled: true, sensitivity: 6, minHourlyUsd: 1, baselineWeeks: 4 },
  unpriced: { enabled: true },
};

/** The wire shape (snake_case), as GET returns it and PUT accepts it (every field optional). */
export interface AlertSettingsBody {
  anomaly?: { enabled?: boolean; sensitivity?: number; min_hourly_usd?: number; baseline_weeks?: number };
  unpriced?: { enabled?: boolean };
}

export function toSettingsBody(settings: AlertSettings) {
  return {
    anomaly: {
      enabled: settings.anomaly.enabled,
      sensitivity: settings.anomaly.sensitivity,
      min_hourly_usd: settings.anomaly.minHourlyUsd,
      baseline_weeks: settings.anomaly.baselineWeeks,
    },
    unpriced: { enabled: settings.unpriced.enabled },
  };
}

/** `base` with the body's fields on top; throws invalid_request for values out of range. */
export function mergeSettings(base: AlertSettings, body: AlertSettingsBody): AlertSettings {
  const anomaly = body.anomaly ?? {};
  const merged: AlertSettings = {
    anomaly: {
      enabled: anomaly.enabled ?? base.anomaly.enabled,
      sensitivity: anomaly.sensitivity ?? base.anomaly.sensitivity,
      minHourlyUsd: anomaly.min_hourly_usd ?? base.anomaly.minHourlyUsd,
      baselineWeeks: anomaly.baseline_weeks ?? base.anomaly.baselineWeeks,
    },
    unpriced: { enabled: body.unpriced?.enabled ?? base.unpriced.enabled },
  };
  const { sensitivity, minHourlyUsd, baselineWeeks } = merged.anomaly;
  if (!(sensitivity >= 1 && sensitivity <= 50))
    throw new AppError('invalid_request', 'anomaly.sensitivity must be from 1 to 50');
  if (!(minHourlyUsd >= 0 && minHourlyUsd <= 1_000_000))
    throw new AppError('invalid_request', 'anomaly.min_hourly_usd must be from 0 to 1000000');
  if (!(Number.isInteger(baselineWeeks) && baselineWeeks >= 1 && baselineWeeks <= 12))
    throw new AppError('invalid_request', 'anomaly.baseline_weeks must be a whole number from 1 to 12');
  return merged;
}

/** The saved settings (JSON text from the store), or the defaults. */
export function parseSettings(text: string | undefined): AlertSettings {
  if (text === undefined) return DEFAULT_ALERT_SETTINGS;
  try {
    return mergeSettings(DEFAULT_ALERT_SETTINGS, JSON.parse(text) as AlertSettingsBody);
  } catch {
    return DEFAULT_ALERT_SETTINGS;
  }
}
