import type { Scheduler } from '../packages/client/src/scheduler.js';

/** A clock the test moves: timers run only when advance() passes their due time, in order. */
export interface ManualScheduler extends Scheduler {
  /** The due time of the earliest pending timer, if any. */
  nextDue(): number | undefined;
  /** Moves the clock to `at`, running every timer due on the way. */
  advanceTo(at: number): void;
}

export function manualScheduler(startMs = Date.UTC(2026, 10, 28, 12, 0, 0)): ManualScheduler {
  let now = startMs;
  let nextId = 1;
  const timers = new Map<number, { due: number; fn: () => void }>();
  const earliest = () => {
    let found: [number, { due: number; fn: () => void }] | undefined;
    for (const entry of timers) if (!found || entry[1].due < found[1].due) found = entry;
    return found;
  };
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { due: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    nextDue: () => earliest()?.[1].due,
    advanceTo(at) {
      for (let next = earliest(); next && next[1].due <= at; next = earliest()) {
        timers.delete(next[0]);
        now = Math.max(now, next[1].due);
        next[1].fn();
      }
      now = Math.max(now, at);
    },
  };
}
