import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { Metrics } from './metrics/metrics.js';
import { openStore } from './storage/open-store.js';
import { VERSION } from './version.js';

/** Process entry: config, store, app, listen; on SIGTERM/SIGINT stop accepting, drain, close. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`cost-guardian: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const metrics = new Metrics();
  const store = openStore(config.dbPath, { onCommit: (records, ms) => metrics.recordCommit(records, ms) });
  const app = await buildApp({ config, store, metrics });

  const address = await app.listen({ host: config.host, port: config.port });
  const log = app.log;
  log.info(
    { version: VERSION, mode: config.mode, address, database: config.dbPath },
    `Cost Guardian ${VERSION} listening on ${address} (${config.mode} mode)`,
  );
  log.info(`Dashboard: ${address}/dashboard`);
  if (!config.apiKey)
    log.warn('Admin API is NOT secured: API_KEY is not set (development only; bound to loopback)');
  if (!config.ingestKey)
    log.warn('Ingest is NOT secured: INGEST_KEY is not set, so any local caller can write usage');
  if (config.allowedOrigins.length === 0)
    log.info('CORS: no cross-origin browser access (ALLOWED_ORIGINS is empty)');
  if (config.openaiModel) log.info('OPENAI_MODEL is set but unused: every record is priced by its own model');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    // Keep-alive sockets that finish their request after close() began would hold the server open:
    // close each one as soon as it is idle.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
    try {
      await app.close();
      clearInterval(sweep);
      await store.close();
      log.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `cost-guardian: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
