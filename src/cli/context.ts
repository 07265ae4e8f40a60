import { existsSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { type Config, ConfigError, loadConfig } from '../config.js';
import type { AppError } from '../errors.js';
import { systemClock } from '../lib/clock.js';
import { createPricingEngine } from '../pricing/pricing-engine.js';
import type { Pricer } from '../pricing/types.js';
import { createPriceBook, layers, loadPriceFile, PriceFileError } from '../repricing/price-book.js';
import {
  createSqliteStore,
  type SqliteStore,
  type SqliteStoreOptions,
} from '../storage/sqlite/sqlite-store.js';
import { FULL_DISK_BYTES } from '../storage/store.js';
import { CliError, EXIT } from './exit-codes.js';

export interface CliStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** Everything a command touches outside itself; tests pass their own. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdout: CliStream & NodeJS.WritableStream;
  stderr: CliStream & NodeJS.WritableStream;
}

/** Options every command accepts (set on the program, before or after the command name). */
export interface GlobalOptions {
  db?: string;
}

/** The service configuration, with `--db` overriding DB_PATH; a bad environment is exit 3. */
export function loadCliConfig(io: CliIo, global: GlobalOptions = {}): Config {
  try {
    return loadConfig(global.db ? { ...io.env, DB_PATH: global.db } : io.env, io.cwd);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(EXIT.config, error.message, { cause: error });
    throw error;
  }
}

/** Opens (and migrates) the service database; any failure to do so is exit 4. */
export function openCliStore(config: Config, options: SqliteStoreOptions = {}): SqliteStore {
  try {
    return createSqliteStore(config.dbPath, {
      scanTimeoutMs: config.scanTimeoutMs,
      lockWaitMs: config.dbLockWaitMs,
      ...options,
    });
  } catch (error) {
    throw databaseError(config.dbPath, error);
  }
}

/** Free bytes on the file system holding `directory`, or undefined when it cannot be told. */
function freeBytesSync(directory: string): number | undefined {
  try {
    const stats = statfsSync(directory);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

export function databaseError(dbPath: string, error: unknown): CliError {
  const { code, syscall } = error as { code?: string; syscall?: string };
  const message = error instanceof Error ? error.message : String(error);
  // On a full disk SQLite often cannot even size its WAL index (SQLITE_IOERR_SHMSIZE, "disk I/O
  // error"): ask the file system rather than leave the operator with that message.
  const free = freeBytesSync(path.dirname(dbPath));
  const full =
    code === 'SQLITE_FULL' ||
    code === 'ENOSPC' ||
    (code?.startsWith('SQLITE_IOERR') === true && free !== undefined && free < FULL_DISK_BYTES);
  if (full) {
    return new CliError(
      EXIT.database,
      `cannot open the database ${dbPath}: the disk holding it is full (${free ?? 'unknown'} bytes free); free some space and start again (${message})`,
    );
  }
  if (syscall !== undefined || code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN') {
    return new CliError(
      EXIT.database,
      `cannot open the database ${dbPath} (${message}); the directory must exist or be creatable, and be writable by this user (uid ${process.getuid?.() ?? '?'})`,
    );
  }
  return new CliError(EXIT.database, `database ${dbPath}: ${message}`);
}

/** AppErrors raised by shared service code (token creation, filters) as CLI exit statuses. */
export function fromAppError(error: AppError): CliError {
  switch (error.code) {
    case 'invalid_request':
      return new CliError(EXIT.usage, error.message);
    case 'not_found':
    case 'conflict':
    case 'forbidden':
      return new CliError(EXIT.refused, error.message);
    default:
      return new CliError(EXIT.failure, error.message);
  }
}

export function writeLine(stream: CliStream, line = ''): void {
  stream.write(`${line}\n`);
}

/**
 * The pricer CLI commands price with: the same prices the service would use (the package, then
 * PRICES_FILE, then the overrides saved in the database). A bad PRICES_FILE is a config error.
 */
export async function createCliPricer(config: Config): Promise<Pricer> {
  let file: ReturnType<typeof loadPriceFile> | null = null;
  try {
    file = config.pricesFile ? loadPriceFile(config.pricesFile) : null;
  } catch (error) {
    if (error instanceof PriceFileError) throw new CliError(EXIT.config, error.message);
    throw error;
  }
  // No database yet means no saved overrides; do not create one just to look (dry runs write nothing).
  if (!existsSync(config.dbPath)) return createPricingEngine({ overrides: layers(file, null) });
  const store = openCliStore(config);
  try {
    return (await createPriceBook({ store, clock: systemClock, file })).pricer;
  } finally {
    await store.close();
  }
}
