import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export interface OpenOptions {
  readonly?: boolean;
}

/**
 * Opens a connection with the pragmas every connection needs. WAL lets the read worker read while
 * the writer writes; synchronous=FULL makes every commit survive power loss (the writer pays for it
 * once per group commit, not once per record).
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
    db.pragma('synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
  return db;
}
