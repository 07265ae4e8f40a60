import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** Thrown when another process already serves the database. */
export class DatabaseInUseError extends Error {
  constructor(
    readonly dbPath: string,
    readonly lockPath: string,
  ) {
    super(
      `another Cost Guardian server is already serving ${dbPath} (it holds the lock on ${lockPath}). ` +
        'A SQLite database is served by one process: rate limits, live updates and the write path ' +
        'assume it. To run several instances behind a load balancer, use PostgreSQL and Redis ' +
        '(docs/deploy.md). Maintenance commands such as backup, export, tokens and reprice work ' +
        'while the server runs.',
    );
    this.name = 'DatabaseInUseError';
  }
}

export interface ServeLock {
  readonly lockPath: string;
  release(): void;
}

/**
 * Claims a SQLite database for one serving process, for as long as the process holds the
 * returned lock. The claim is SQLite's own exclusive lock (a POSIX fcntl lock) on a sidecar file,
 * `<database>.serve-lock`, inside a transaction that is never committed: the kernel drops it when
 * the process ends however it ends (SIGKILL, a crash, a power cut), so a file left behind never
 * blocks the next start. Only `serve` takes it; the CLI's maintenance commands open the database
 * itself, which SQLite's WAL locking already makes safe alongside the server. SQLite also counts
 * connections of one process against each other, so a second server in the same process is
 * refused too. Like every SQLite lock it needs a local file system (NFS locking is not reliable).
 */
export function lockDatabaseForServing(dbPath: string): ServeLock {
  const lockPath = `${dbPath}.serve-lock`;
  mkdirSync(path.dirname(lockPath), { recursive: true });
  const db = new Database(lockPath, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new DatabaseInUseError(dbPath, lockPath);
    throw error;
  }
  return {
    lockPath,
    release() {
      if (db.open) db.close();
    },
  };
}
