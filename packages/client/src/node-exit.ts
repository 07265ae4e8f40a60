import { liveClients } from './cost-guardian.js';

/**
 * Flushes every client when the process is about to end: on `beforeExit` (the event loop ran out of
 * work) and on SIGTERM. Each waits at most the client's exitTimeoutMs; what is still unsent then
 * stays in the disk spool when one is configured. `process.exit()` skips both events: call
 * `await flush()` before it.
 */
let installed = false;
let flushing: Promise<number> | null = null;
/** A flush at exit that left records unsent is not repeated on every later beforeExit. */
let gaveUp = false;

export function installExitHooks(): void {
  if (installed) return;
  installed = true;
  process.on('beforeExit', onBeforeExit);
  process.on('SIGTERM', onSigterm);
}

function flushForExit(): Promise<number> {
  if (flushing) return flushing;
  const clients = [...liveClients].filter((client) => client.stats().queued > 0);
  if (clients.length === 0) return Promise.resolve(0);
  // The client's own timers are unref'd; this one keeps the process alive until delivery ends.
  const keepAlive = setInterval(() => {}, 60_000);
  flushing = Promise.all(clients.map((client) => client.flush(client.options.exitTimeoutMs ?? 5000)))
    .then((results) => results.reduce((sum, result) => sum + result.pending, 0))
    .finally(() => {
      clearInterval(keepAlive);
      flushing = null;
    });
  return flushing;
}

function onBeforeExit(): void {
  if (flushing || gaveUp) return;
  void flushForExit().then((pending) => {
    if (pending > 0) gaveUp = true;
  });
}

function onSigterm(): void {
  void flushForExit().then(() => {
    // With no other SIGTERM listener the app relied on the default: end the process as Node would.
    if (process.listenerCount('SIGTERM') === 1) {
      process.removeListener('SIGTERM', onSigterm);
      process.kill(process.pid, 'SIGTERM');
    }
  });
}
