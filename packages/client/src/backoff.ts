/** Retry timing for deliveries to Cost Guardian. Pure: no clock, no randomness of its own. */

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** No computed delay exceeds this (Retry-After may ask for longer, up to maxRetryAfterMs). */
  maxMs: number;
}

/** A server asking for more than this is treated as asking for this. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * Exponential backoff with "equal jitter": half the exponential delay plus a random half, so the
 * delay still grows with each attempt while clients that failed together spread out.
 * `attempt` counts failures so far (1 for the first retry); `random` is in [0, 1).
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: number): number {
  const exponential = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + (exponential / 2) * random);
}

/**
 * Parses a Retry-After header: delta-seconds or an HTTP date. Undefined when absent or unreadable.
 * The result is clamped to [0, MAX_RETRY_AFTER_MS].
 */
export function parseRetryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
}

/** The wait before the next attempt: never sooner than the server asked, never less than the backoff. */
export function retryDelayMs(
  attempt: number,
  options: BackoffOptions,
  random: number,
  retryAfterMs: number | undefined,
): number {
  const backoff = backoffDelayMs(attempt, options, random);
  return retryAfterMs === undefined ? backoff : Math.max(backoff, retryAfterMs);
}
