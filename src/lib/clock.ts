/** The source of "now" for everything that stamps or compares times. Tests inject a fake one. */
export interface Clock {
  /** Milliseconds since the Unix epoch, UTC. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A callback scheduled with Timers; cancelling one that already ran does nothing. */
export interface Timer {
  cancel(): void;
}

/**
 * Runs callbacks later, on the same time line as the Clock injected beside it: code that waits
 * (coalescing, heartbeats) takes Timers from its dependencies so that tests move time themselves
 * instead of sleeping. Implementations must never call back synchronously from setTimeout.
 */
export interface Timers {
  setTimeout(callback: () => void, delayMs: number): Timer;
}

/**
 * Node's timers, unref'd: what they drive matters only while a server or stream keeps the process
 * alive, and a pending one must not hold off a clean exit.
 */
export const systemTimers: Timers = {
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

export type ManualClock = Clock &
  Timers & {
    /** Moves time forward, running every timer that falls due, in due order, at its due time. */
    advance(ms: number): void;
    /** Jumps to `ms`; moving forward runs the timers that fall due, like advance. */
    set(ms: number): void;
  };

/** A clock, with timers, that only moves when told to; for tests. */
export function createManualClock(startMs: number): ManualClock {
  let current = startMs;
  let sequence = 0;
  const pending: { dueMs: number; order: number; callback: () => void }[] = [];
  const runUntil = (targetMs: number) => {
    for (;;) {
      pending.sort((a, b) => a.dueMs - b.dueMs || a.order - b.order);
      const next = pending[0];
      if (!next || next.dueMs > targetMs) break;
      pending.shift();
      current = Math.max(current, next.dueMs);
      next.callback();
    }
    current = targetMs;
  };
  return {
    now: () => current,
    setTimeout(callback, delayMs) {
      const entry = { dueMs: current + Math.max(0, delayMs), order: sequence++, callback };
      pending.push(entry);
      return {
        cancel() {
          const index = pending.indexOf(entry);
          if (index !== -1) pending.splice(index, 1);
        },
      };
    },
    advance(ms: number) {
      runUntil(current + ms);
    },
    set(ms: number) {
      if (ms > current) runUntil(ms);
      else current = ms;
    },
  };
}
