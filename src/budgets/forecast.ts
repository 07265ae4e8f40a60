import type { BudgetWindowSpec } from '../storage/store.js';
import { HOUR_MS, hoursOfWeek } from './window.js';

/**
 * Spend forecasts (pure): a trailing rate with hour-of-week seasonality. docs/budgets.md shows how
 * it compares with simpler methods on synthetic and replayed series.
 *
 * 1. Season: from the complete hours of the history since its first hour with spend, the mean
 *    spend of each local hour of the week (two weeks of history or more), else of each hour of the
 *    day (two days or more), else flat; divided by the overall mean, so that 1 is an average hour.
 * 2. Level: the spend of the trailing `trailingHours` (the current partial hour included) divided
 *    by their seasonal weights: dollars per average hour, as of now.
 * 3. Projection: level x season for every hour left until the horizon (the window's end; for a
 *    rolling window, one window length ahead), added to what is spent.
 * 4. Range: from the residuals of the trailing hours against level x season, the hourly noise
 *    sigma; the variance of the remaining spend is the noise of each hour left plus the error of
 *    the level, which grows with the square of the remaining weight. The band is +-Z sigma,
 *    never below what is spent.
 * 5. Limit: walking the projection hour by hour, the first instant its running total reaches the
 *    limit (within an hour, at the hour's rate).
 */

export interface ForecastInput {
  window: BudgetWindowSpec;
  windowStartMs: number;
  windowEndMs: number;
  nowMs: number;
  /** What the window holds now. */
  spentNanoUsd: number;
  limitNanoUsd: number;
  /** Priced cost per UTC hour from hourlyStartMs (an hour start) to the hour that contains nowMs. */
  hourlyStartMs: number;
  hourly: ArrayLike<number>;
  trailingHours?: number;
  /** Weigh the trailing hours by age instead (0.5 per half-life), over six half-lives. */
  halfLifeHours?: number;
  z?: number;
}

export interface ForecastPoint {
  /** End of an hour (or the horizon), UTC ms. */
  t: number;
  projected: number;
  low: number;
  high: number;
}

export interface Forecast {
  /** The instant the projection is for: the window's end, or one window length ahead (rolling). */
  atMs: number;
  projectedNanoUsd: number;
  lowNanoUsd: number;
  highNanoUsd: number;
  /** When the running projection reaches the limit; null if not before atMs. For a limit already reached, when it was. */
  limitReachedAtMs: number | null;
  /** The level: dollars (nano) per average hour now. */
  hourlyRateNanoUsd: number;
  season: 'hour-of-week' | 'hour-of-day' | 'none';
  /** Cumulative projection per hour, for a chart. */
  path: ForecastPoint[];
}

export const DEFAULT_TRAILING_HOURS = 72;
/** 90 % two-sided for a normal error; docs/budgets.md gives the coverage measured with it. */
export const DEFAULT_Z = 1.645;

/** Per hour of the week (168), the seasonal weight (mean 1), from hours [from, to) of the series. */
export function seasonalWeights(
  hourly: ArrayLike<number>,
  how: Uint8Array,
  from: number,
  to: number,
): { weights: Float64Array; season: Forecast['season'] } {
  const weights = new Float64Array(168).fill(1);
  const completeHours = to - from;
  let total = 0;
  for (let i = from; i < to; i += 1) total += hourly[i] ?? 0;
  if (total <= 0) return { weights, season: 'none' };
  const byWeek = completeHours >= 2 * 168;
  if (!byWeek && completeHours < 48) return { weights, season: 'none' };
  const slots = byWeek ? 168 : 24;
  const sums = new Float64Array(slots);
  const counts = new Float64Array(slots);
  for (let i = from; i < to; i += 1) {
    const slot = byWeek ? (how[i] ?? 0) : (how[i] ?? 0) % 24;
    sums[slot] = (sums[slot] ?? 0) + (hourly[i] ?? 0);
    counts[slot] = (counts[slot] ?? 0) + 1;
  }
  const mean = total / completeHours;
  for (let k = 0; k < 168; k += 1) {
    const slot = byWeek ? k : k % 24;
    const count = counts[slot] ?? 0;
    weights[k] = count > 0 ? (sums[slot] ?? 0) / count / mean : 1;
  }
  return { weights, season: byWeek ? 'hour-of-week' : 'hour-of-day' };
}

export function forecast(input: ForecastInput): Forecast {
  const { hourly, hourlyStartMs, nowMs, spentNanoUsd, limitNanoUsd } = input;
  const trailing = Math.max(1, input.trailingHours ?? DEFAULT_TRAILING_HOURS);
  const z = input.z ?? DEFAULT_Z;
  const current = Math.max(0, Math.floor((nowMs - hourlyStartMs) / HOUR_MS));
  const elapsed = (nowMs - (hourlyStartMs + current * HOUR_MS)) / HOUR_MS;
  const horizonMs =
    input.window.kind === 'rolling'
      ? input.windowEndMs + input.window.hours * HOUR_MS - HOUR_MS
      : input.windowEndMs;
  const futureHours = Math.max(0, Math.ceil((horizonMs - hourlyStartMs) / HOUR_MS) - current - 1);
  const how = hoursOfWeek(input.window, hourlyStartMs, current + 1 + futureHours);
  // The history starts at the first hour with spend: the hours before it are not "no spend at
  // that hour of the week", they are before the scope had any usage (a new token, a new model).
  let first = 0;
  while (first < current && (hourly[first] ?? 0) === 0) first += 1;
  const { weights, season } = seasonalWeights(hourly, how, first, current);
  const weightAt = (i: number) => weights[how[i] ?? 0] ?? 1;

  // The level, and the residual noise around level x season, over the trailing hours; with a
  // half-life, recent hours weigh more (0.5 per half-life of age).
  const halfLife = input.halfLifeHours;
  const from = Math.max(first, current - (halfLife === undefined ? trailing : Math.ceil(6 * halfLife)));
  const decay = halfLife === undefined ? 1 : 0.5 ** (1 / halfLife);
  let spend = (hourly[current] ?? 0) as number;
  let weight = elapsed * weightAt(current);
  let squaredFactors = elapsed * elapsed;
  let factor = 1;
  for (let i = current - 1; i >= from; i -= 1) {
    factor *= decay;
    spend += factor * (hourly[i] ?? 0);
    weight += factor * weightAt(i);
    squaredFactors += factor * factor;
  }
  const level = weight > 0 ? spend / weight : 0;
  let squares = 0;
  let samples = 0;
  for (let i = from; i < current; i += 1) {
    const residual = (hourly[i] ?? 0) - level * weightAt(i);
    squares += residual * residual;
    samples += 1;
  }
  const sigma = samples > 1 ? Math.sqrt(squares / (samples - 1)) : 0;
  const levelVariance = weight > 0 ? (sigma * sigma * squaredFactors) / (weight * weight) : 0;
  // How far the level itself wanders: per hour, from the week-to-week (or, with less history,
  // day-to-day) changes of the deseasonalised level, as a random walk.
  const drift = levelDrift(hourly, weightAt, first, current);

  // Walk the hours left: the rest of the current one, then whole hours up to the horizon. A
  // rolling window also drops its oldest hour as each hour passes.
  const path: ForecastPoint[] = [];
  let projected = spentNanoUsd;
  let noise = 0;
  let remainingWeight = 0;
  let dropped = 0;
  // Variance of the walk's effect on the running sum: sum over i, j <= now+step of w_i w_j min(t_i, t_j).
  let walk = 0;
  let weightedTimes = 0;
  let limitReachedAtMs: number | null = spentNanoUsd >= limitNanoUsd ? reachedAt(input, current) : null;
  const firstWindowHour = Math.floor((input.windowStartMs - hourlyStartMs) / HOUR_MS);
  for (let step = 0; step <= futureHours; step += 1) {
    const i = current + step;
    if (input.window.kind === 'rolling' && step > 0) dropped += hourly[firstWindowHour + step - 1] ?? 0;
    const share = step === 0 ? 1 - elapsed : 1;
    const start = step === 0 ? nowMs : hourlyStartMs + i * HOUR_MS;
    const end = Math.min(hourlyStartMs + (i + 1) * HOUR_MS, horizonMs);
    const increment = level * weightAt(i) * share;
    const before = projected - dropped;
    projected += increment;
    noise += share;
    remainingWeight += weightAt(i) * share;
    const w = weightAt(i) * share;
    const t = (end - nowMs) / HOUR_MS;
    walk += 2 * w * weightedTimes + w * w * t;
    weightedTimes += w * t;
    const inWindow = projected - dropped;
    if (limitReachedAtMs === null && inWindow >= limitNanoUsd && increment > 0) {
      const fraction = Math.max(0, (limitNanoUsd - before) / increment);
      limitReachedAtMs = Math.min(end, start + fraction * (end - start));
    }
    const sd = Math.sqrt(
      noise * sigma * sigma +
        remainingWeight * remainingWeight * levelVariance +
        level * level * drift * walk,
    );
    path.push({
      t: end,
      projected: inWindow,
      low: Math.max(spentNanoUsd, projected - z * sd) - dropped,
      high: projected + z * sd - dropped,
    });
    if (end >= horizonMs) break;
  }
  const last = path[path.length - 1];
  return {
    atMs: horizonMs,
    projectedNanoUsd: Math.round(last?.projected ?? spentNanoUsd),
    lowNanoUsd: Math.round(last?.low ?? spentNanoUsd),
    highNanoUsd: Math.round(last?.high ?? spentNanoUsd),
    limitReachedAtMs: limitReachedAtMs === null ? null : Math.round(limitReachedAtMs),
    hourlyRateNanoUsd: Math.round(level),
    season,
    path,
  };
}

/** When the window's running spend reached the limit, from its hourly counters (within an hour). */
function reachedAt(input: ForecastInput, current: number): number | null {
  const first = Math.max(0, Math.floor((input.windowStartMs - input.hourlyStartMs) / HOUR_MS));
  let total = 0;
  for (let i = first; i <= current; i += 1) total += input.hourly[i] ?? 0;
  // The counters may hold less than the window (rows dated ahead of now): then say "now".
  let running = input.spentNanoUsd - total;
  for (let i = first; i <= current; i += 1) {
    const value = input.hourly[i] ?? 0;
    if (running + value >= input.limitNanoUsd && value > 0) {
      const start = input.hourlyStartMs + i * HOUR_MS;
      return Math.round(start + ((input.limitNanoUsd - running) / value) * HOUR_MS);
    }
    running += value;
  }
  return input.nowMs;
}

/**
 * The level's relative variance per hour as a random walk: the mean square of the log changes of
 * the deseasonalised level between consecutive weeks (two full weeks of history or more) or days,
 * divided by their length in hours.
 */
function levelDrift(
  hourly: ArrayLike<number>,
  weightAt: (i: number) => number,
  first: number,
  current: number,
): number {
  const span = current - first >= 2 * 168 ? 168 : 24;
  const levels: number[] = [];
  for (let end = current; end - span >= first; end -= span) {
    let spend = 0;
    let weight = 0;
    for (let i = end - span; i < end; i += 1) {
      spend += hourly[i] ?? 0;
      weight += weightAt(i);
    }
    levels.push(weight > 0 ? spend / weight : 0);
    if (levels.length > 8) break;
  }
  let squares = 0;
  let pairs = 0;
  for (let k = 1; k < levels.length; k += 1) {
    const a = levels[k - 1] ?? 0;
    const b = levels[k] ?? 0;
    if (a <= 0 || b <= 0) continue;
    squares += Math.log(a / b) ** 2;
    pairs += 1;
  }
  return pairs === 0 ? 0 : squares / pairs / span;
}
