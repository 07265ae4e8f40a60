import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export interface OpenOptions {
  readonly?: boolean;
  /**
   * 'full' (the default): every COMMIT fsyncs the WAL before it returns. 'normal': COMMIT does not
   * wait for the disk; for a writer that makes its commits durable itself (wal-sync.ts).
   */
  synchronous?: 'full' | 'normal';
}

/**
 * Opens a connection with the pragmas every connection needs. WAL lets the read worker read while
 * the writer writes; synchronous=FULL makes every commit survive power loss (the writer pays for it
 * once per group commit, not once per record). The store's writer uses 'normal' with an fdatasync
 * of its own off the event loop (wal-sync.ts), which is as durable.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Database.Database {
  if (!options.readonly) mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
  });
  db.pragma('busy_timeout = 5000');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(options.synchronous === 'normal' ? 'synchronous = NORMAL' : 'synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
  return db;
}
