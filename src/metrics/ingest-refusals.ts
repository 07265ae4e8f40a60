const MINUTE_MS = 60_000;
const WINDOW_MINUTES = 60;

/**
 * Ingest records refused by the rate limit in the last hour, for the dashboard's warning: counts in
 * one-minute slots (so "the last hour" is the current minute and the 59 before it), plus when the
 * last refusal happened and which tracking token it hit. Per process, like every other counter;
 * times come from the caller's clock (the injected one), never from Date.now().
 */
export class IngestRefusals {
  private readonly counts = new Array<number>(WINDOW_MINUTES).fill(0);
  private readonly minutes = new Array<number>(WINDOW_MINUTES).fill(Number.NEGATIVE_INFINITY);
  private lastAt: number | null = null;
  private lastLabel: string | null = null;

  record(nowMs: number, tokenLabel: string, records = 1): void {
    const minute = Math.floor(nowMs / MINUTE_MS);
    const slot = ((minute % WINDOW_MINUTES) + WINDOW_MINUTES) % WINDOW_MINUTES;
    if (this.minutes[slot] !== minute) {
      this.minutes[slot] = minute;
      this.counts[slot] = 0;
    }
    this.counts[slot] = (this.counts[slot] ?? 0) + records;
    if (this.lastAt === null || nowMs >= this.lastAt) {
      this.lastAt = nowMs;
      this.lastLabel = tokenLabel;
    }
  }

  summary(nowMs: number): { lastHour: number; lastAtMs: number | null; lastTokenLabel: string | null } {
    const minute = Math.floor(nowMs / MINUTE_MS);
    let lastHour = 0;
    for (let slot = 0; slot < WINDOW_MINUTES; slot += 1) {
      const age = minute - (this.minutes[slot] ?? Number.NEGATIVE_INFINITY);
      if (age >= 0 && age < WINDOW_MINUTES) lastHour += this.counts[slot] ?? 0;
    }
    return { lastHour, lastAtMs: this.lastAt, lastTokenLabel: this.lastLabel };
  }
}
