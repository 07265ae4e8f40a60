import { createSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/**
 * Opens the store named by a database location. Today that is a SQLite file path; a
 * `postgres://` URL will select the PostgreSQL adapter when it lands.
 */
export function openStore(location: string, options: SqliteStoreOptions = {}): Store {
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new Error('PostgreSQL storage is not available yet; use a SQLite file path');
  }
  return createSqliteStore(location, options);
}
