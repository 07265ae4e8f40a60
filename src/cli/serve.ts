import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { type Config, ConfigError } from '../config.js';
import { Metrics } from '../metrics/metrics.js';
import { type RunningServer, startServer } from '../server.js';
import {
  DatabaseInUseError,
  lockDatabaseForServing,
  type ServeLock,
} from '../storage/sqlite/instance-lock.js';
import { type CliIo, databaseError, type GlobalOptions, loadCliConfig, openCliStore } from './context.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';

const SHUTDOWN_GRACE_MS = 10_000;

/**
 * Runs the service until SIGTERM or SIGINT, then stops accepting connections, finishes in-flight
 * requests, commits queued writes and exits 0 (1 if that takes longer than 10 s or fails).
 */
export async function serveCommand(io: CliIo, global: GlobalOptions): Promise<ExitCode> {
  let config: Config;
  try {
    config = loadCliConfig(io, global);
  } catch (error) {
    const cause = error instanceof CliError ? error.cause : undefined;
    if (!(cause instanceof ConfigError) || cause.container === undefined) throw error;
    return serveUnconfigured(io, cause, cause.container);
  }
  const lock = claimDatabase(config.dbPath);
  const metrics = new Metrics({ processMetrics: true });
  let store: ReturnType<typeof openCliStore>;
  try {
    store = openCliStore(config, {
      onCommit: (records, ms) => metrics.recordCommit(records, ms),
      onSync: (ms) => metrics.recordSync(ms),
      onRead: (operation, ms) => metrics.recordRead(operation, ms),
    });
  } catch (error) {
    lock.release();
    throw error;
  }
  let server: RunningServer;
  try {
    server = await startServer({ config, store, metrics });
  } catch (error) {
    await store.close();
    lock.release();
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new CliError(
        EXIT.failure,
        `port ${config.port} on ${config.host} is already in use (SERVER_PORT)`,
      );
    if (code === 'EADDRNOTAVAIL')
      throw new CliError(EXIT.config, `HOST=${config.host} is not an address of this machine`);
    throw error;
  }
  const log = server.app.log;

  return new Promise<ExitCode>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
      const force = setTimeout(() => {
        log.error(`shutdown took longer than ${SHUTDOWN_GRACE_MS / 1000} s; exiting`);
        process.exit(EXIT.failure);
      }, SHUTDOWN_GRACE_MS);
      force.unref();
      server.close().then(
        () => {
          clearTimeout(force);
          lock.release();
          log.info('shutdown complete');
          resolve(EXIT.ok);
        },
        (error: unknown) => {
          clearTimeout(force);
          log.error({ err: error }, 'shutdown failed');
          resolve(EXIT.failure);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

const UNCONFIGURED_RETRY_AFTER_SECONDS = 60;

/**
 * In the container image, a configuration error does not end the process: the container would be
 * restarted by compose's `restart: unless-stopped`, with the same .env, failing again in a loop
 * that hides the message between restarts. Instead the problems are printed once, and every
 * request (the health check too, so the container shows as unhealthy) gets a 503 in the usual
 * error shape pointing at the log; the problems themselves stay in the log, as they can name
 * values. SIGTERM (`docker compose up -d` after fixing .env recreates the container) ends it with
 * the configuration exit status.
 */
async function serveUnconfigured(
  io: CliIo,
  error: ConfigError,
  listen: { host: string; port: number },
): Promise<ExitCode> {
  io.stderr.write(`cost-guardian: ${error.message}\n`);
  const body = (requestId: string) =>
    JSON.stringify({
      status: 'error',
      code: 'unavailable',
      message:
        'Cost Guardian is not configured: its log says what to set (docker compose logs), in .env beside docker-compose.yml',
      requestId,
    });
  const server = createServer((request, response) => {
    request.resume();
    response.writeHead(503, {
      'content-type': 'application/json; charset=utf-8',
      'retry-after': String(UNCONFIGURED_RETRY_AFTER_SECONDS),
      connection: 'close',
    });
    response.end(body(randomUUID()));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
  } catch {
    return EXIT.config;
  }
  io.stderr.write(
    `cost-guardian: not configured; answering 503 on ${listen.host}:${listen.port} until stopped (no restart loop)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  server.close();
  server.closeAllConnections();
  return EXIT.config;
}

/** One server per SQLite file: a second one is refused with a pointer to PostgreSQL (exit 4). */
function claimDatabase(dbPath: string): ServeLock {
  try {
    return lockDatabaseForServing(dbPath);
  } catch (error) {
    if (error instanceof DatabaseInUseError) throw new CliError(EXIT.database, error.message);
    throw databaseError(dbPath, error);
  }
}
