/**
 * The Node entry of @cost-guardian/client (Node 18+): the same API as index.ts, plus
 * AsyncLocalStorage for withAttribution(), flushing on beforeExit and SIGTERM, and the optional
 * disk spool (spoolDir).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { type Attribution, setContextStorage } from './attribution.js';
import { platform } from './cost-guardian.js';
import { installExitHooks } from './node-exit.js';
import { openSpool } from './node-spool.js';

setContextStorage(new AsyncLocalStorage<Attribution>());
platform.uuid = randomUUID;
platform.onCreate = (guardian, options) => {
  if (options.exitHooks !== false) installExitHooks();
  if (options.spoolDir) openSpool(guardian, options.spoolDir);
};

export * from './index.js';
