import { closeSync, existsSync, fdatasync, fsyncSync, openSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';

export interface WalSync {
  /** Makes every transaction committed so far on the connection durable. */
  sync(): Promise<void>;
  close(): void;
}

/**
 * Durable commits without blocking the event loop. With synchronous=FULL, SQLite fsyncs the WAL
 * inside every COMMIT, on the thread that commits: about a quarter of the write path's time
 * (docs/adr/002-wal-sync-off-the-event-loop.md). The writer connection runs with synchronous=NORMAL instead (COMMIT
 * writes its WAL frames without an fsync; checkpoints still sync the WAL before and the database
 * file after) and this fdatasyncs the WAL file on libuv's thread pool; WriteQueue answers a job
 * only after a sync that started after its COMMIT. That is what synchronous=FULL does, moved off
 * the event loop, and one sync covers every transaction committed while the previous one ran.
 *
 * The WAL file keeps its inode while this connection is open (SQLite deletes it only when the
 * last connection closes, and truncates it in place), so one file descriptor serves; close() it
 * before the connection. Its directory entry is synced once here, in case the file is new.
 */
export function createWalSync(db: Database.Database, dbPath: string): WalSync {
  if (db.pragma('journal_mode', { simple: true }) !== 'wal') {
    throw new Error('createWalSync needs a connection in WAL mode');
  }
  const walPath = `${dbPath}-wal`;
  // A read transaction opens the WAL, creating the file if the database has never been written.
  if (!existsSync(walPath)) db.prepare('SELECT COUNT(*) FROM sqlite_master').get();
  const fd = openSync(walPath, 'r');
  const directory = openSync(path.dirname(walPath), 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
  let closed = false;
  return {
    sync: () =>
      new Promise<void>((resolve, reject) => {
        if (closed) return reject(new Error('WAL sync is closed'));
        fdatasync(fd, (error) => (error ? reject(error) : resolve()));
      }),
    close: () => {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}
