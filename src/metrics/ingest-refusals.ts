const MINUTE_MS = 60_000;
const WINDOW_MINUTES = 60;

/** Why an ingest record was refused (each is also an IngestOutcome counter). */
export type IngestRefusalReason = 'rate_limited' | 'validation_error' | 'unknown_token' | 'inactive_token';
export const INGEST_REFUSAL_REASONS: readonly IngestRefusalReason[] = [
  'rate_limited',
  'validation_error',
  'unknown_token',
  'inactive_token',
];

const zeros = (): Record<IngestRefusalReason, number> => ({
  rate_limited: 0,
  validation_error: 0,
  unknown_token: 0,
  inactive_token: 0,
});

/**
 * Ingest records refused in the last hour, by reason, for the dashboard's warning: counts in
 * one-minute slots (so "the last hour" is the current minute and the 59 before it), plus when the
 * last rate-limit refusal happened and which tracking token it hit. Per process, like every other
 * counter; times come from the caller's clock (the injected one), never from Date.now().
 */
export class IngestRefusals {
  private readonly counts = Array.from({ length: WINDOW_MINUTES }, zeros);
  private readonly minutes = new Array<number>(WINDOW_MINUTES).fill(Number.NEGATIVE_INFINITY);
  private lastRateLimitedAt: number | null = null;
  private lastRateLimitedLabel: string | null = null;

  /** `tokenLabel` is the tracking token's label when the token is known (null otherwise). */
  record(nowMs: number, reason: IngestRefusalReason, tokenLabel: string | null, records = 1): void {
    const minute = Math.floor(nowMs / MINUTE_MS);
    const slot = ((minute % WINDOW_MINUTES) + WINDOW_MINUTES) % WINDOW_MINUTES;
    let counts = this.counts[slot] ?? zeros();
    if (this.minutes[slot] !== minute) {
      this.minutes[slot] = minute;
      counts = zeros();
    }
    counts[reason] += records;
    this.counts[slot] = counts;
    if (reason === 'rate_limited' && (this.lastRateLimitedAt === null || nowMs >= this.lastRateLimitedAt)) {
      this.lastRateLimitedAt = nowMs;
      this.lastRateLimitedLabel = tokenLabel;
    }
  }

  summary(nowMs: number): {
    lastHour: Record<IngestRefusalReason, number>;
    lastRateLimitedAtMs: number | null;
    lastRateLimitedTokenLabel: string | null;
  } {
    const minute = Math.floor(nowMs / MINUTE_MS);
    const lastHour = zeros();
    for (let slot = 0; slot < WINDOW_MINUTES; slot += 1) {
      const age = minute - (this.minutes[slot] ?? Number.NEGATIVE_INFINITY);
      if (age < 0 || age >= WINDOW_MINUTES) continue;
      for (const reason of INGEST_REFUSAL_REASONS) lastHour[reason] += this.counts[slot]?.[reason] ?? 0;
    }
    return {
      lastHour,
      lastRateLimitedAtMs: this.lastRateLimitedAt,
      lastRateLimitedTokenLabel: this.lastRateLimitedLabel,
    };
  }
}
