/**
 * Time as the client sees it. Every wait in the client (the flush interval, retry backoff, flush
 * deadlines) goes through one Scheduler, so tests drive the clock instead of sleeping.
 * Contract: `setTimeout` never runs `fn` synchronously; a cleared handle never runs.
 */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock. Timers are unref'd where the runtime allows it, so a pending flush or retry never
 * keeps a Node process alive on its own (the exit hook flushes instead).
 */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms) as unknown as { unref?: () => void };
    handle.unref?.();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
};
