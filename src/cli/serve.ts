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
  const config = loadCliConfig(io, global);
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

/** One server per SQLite file: a second one is refused with a pointer to PostgreSQL (exit 4). */
function claimDatabase(dbPath: string): ServeLock {
  try {
    return lockDatabaseForServing(dbPath);
  } catch (error) {
    if (error instanceof DatabaseInUseError) throw new CliError(EXIT.database, error.message);
    throw databaseError(dbPath, error);
  }
}
