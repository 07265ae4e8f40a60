import type { FastifyBaseLogger } from 'fastify';
import { type App, buildApp } from './app.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics/metrics.js';
import { FULL_DISK_BYTES, type Store } from './storage/store.js';
import { VERSION } from './version.js';

export interface RunningServer {
  app: App;
  address: string;
  /** Stops accepting connections, finishes in-flight requests, then commits and closes the store. */
  close(): Promise<void>;
}

/**
 * Builds the app on an open store and listens. The process around it (signals, exit codes) is the
 * CLI's `serve` command; tests and embedders can call this directly.
 */
export async function startServer(input: {
  config: Config;
  store: Store;
  metrics: Metrics;
  /** Default: Fastify's pino logger at config.logLevel. */
  logger?: FastifyBaseLogger;
}): Promise<RunningServer> {
  const { config, store, metrics } = input;
  const app = await buildApp({ config, store, metrics, ...(input.logger ? { logger: input.logger } : {}) });
  const address = await app.listen({ host: config.host, port: config.port });
  app.deps.alerts.start();
  const log = app.log;
  log.info(
    { version: VERSION, mode: config.mode, address, database: config.dbPath },
    `Cost Guardian ${VERSION} listening on ${address} (${config.mode} mode)`,
  );
  log.info(`Dashboard: ${address}/dashboard; API reference: ${address}/docs`);
  if (!config.apiKey)
    log.warn('Admin API is NOT secured: API_KEY is not set (development only; bound to loopback)');
  if (!config.ingestKey)
    log.warn('Ingest is NOT secured: INGEST_KEY is not set, so any local caller can write usage');
  if (config.allowedOrigins.length === 0)
    log.info('CORS: no cross-origin browser access (ALLOWED_ORIGINS is empty)');
  if (config.openaiModel) log.info('OPENAI_MODEL is set but unused: every record is priced by its own model');
  const writes = await store.writeHealth();
  if (writes.freeBytes !== undefined && writes.freeBytes < FULL_DISK_BYTES)
    log.error(
      { database: config.dbPath, freeBytes: writes.freeBytes },
      `the disk holding ${config.dbPath} is full (${writes.freeBytes} bytes free): writes will answer 503 storage_full until space is freed`,
    );
  if (app.deps.reports.providers.length > 0)
    log.info(`Provider reports: pulling ${app.deps.reports.providers.join(' and ')} usage and costs`);
  app.deps.reports.start();

  let closing: Promise<void> | undefined;
  return {
    app,
    address,
    close() {
      closing ??= (async () => {
        // Keep-alive sockets that finish their request after close() began would hold the server
        // open: close each one as soon as it is idle.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
        try {
          await app.deps.reports.stop();
          await app.close();
        } finally {
          clearInterval(sweep);
        }
        await store.close();
      })();
      return closing;
    },
  };
}
