import { existsSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
  /** Times the copy started over because another connection wrote to the source. */
  restarts: number;
}

export interface BackupResult {
  pages: number;
  bytes: number;
  restarts: number;
  usageRows: number;
  tokens: number;
}

export interface BackupOptions {
  /** Pages copied per step; between steps the source is not locked at all. */
  pagesPerStep?: number;
  /**
   * After this many restarts, the rest is copied in one step. A write from another connection
   * (the running service) between steps restarts the copy; under steady ingest a stepwise copy
   * could restart forever. One step holds a read transaction for its duration, which in WAL mode
   * does not block the writer, so the copy then always finishes.
   */
  maxRestarts?: number;
  onProgress?: (progress: BackupProgress) => void;
}

/**
 * An online backup with SQLite's backup API: the result is the database exactly as it was at one
 * commit, while the service keeps writing. It is written beside the destination under a temporary
 * name, checked with `PRAGMA integrity_check`, and only then renamed into place.
 */
export async function backupDatabase(
  sourcePath: string,
  destination: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const pagesPerStep = options.pagesPerStep ?? 256;
  const maxRestarts = options.maxRestarts ?? 3;
  const partial = `${destination}.partial-${process.pid}`;
  rmSync(partial, { force: true });

  const source = new Database(sourcePath, { readonly: true, fileMustExist: true });
  let restarts = 0;
  let lastRemaining = Number.POSITIVE_INFINITY;
  let total = 0;
  try {
    source.pragma('busy_timeout = 5000');
    await source.backup(partial, {
      progress: ({ totalPages, remainingPages }) => {
        if (remainingPages > lastRemaining) restarts += 1;
        lastRemaining = remainingPages;
        total = totalPages;
        options.onProgress?.({ totalPages, remainingPages, restarts });
        return restarts >= maxRestarts ? 0x7fffffff : pagesPerStep;
      },
    });
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    source.close();
  }

  const copy = new Database(partial);
  let result: BackupResult;
  try {
    const integrity = copy.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new Error(`the backup failed its integrity check: ${String(integrity)}`);
    const pageCount = copy.pragma('page_count', { simple: true }) as number;
    const pageSize = copy.pragma('page_size', { simple: true }) as number;
    const count = (table: string) =>
      hasTable(copy, table)
        ? (copy.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n
        : 0;
    result = {
      pages: pageCount,
      bytes: pageCount * pageSize,
      restarts,
      usageRows: count('usage_log'),
      tokens: count('ingest_tokens'),
    };
    options.onProgress?.({ totalPages: total || pageCount, remainingPages: 0, restarts });
  } catch (error) {
    copy.close();
    removeDatabaseFiles(partial);
    throw error;
  }
  copy.close();
  if (existsSync(`${partial}-wal`)) throw new Error(`the backup ${partial} kept a WAL file after closing`);
  renameSync(partial, destination);
  return result;
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
}

/** Deletes a database file with its WAL, shared-memory and rollback journal files, if present. */
export function removeDatabaseFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
}
