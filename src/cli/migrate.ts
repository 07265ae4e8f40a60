import { existsSync } from 'node:fs';
import { migrate, ORIGINAL_DATABASE_MESSAGE } from '../storage/sqlite/migrate.js';
import { isOriginalDatabase, migrationStatus } from '../storage/sqlite/migration-status.js';
import { openDatabase } from '../storage/sqlite/open-database.js';
import { type CliIo, databaseError, type GlobalOptions, loadCliConfig, writeLine } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';

const label = (m: { version: number; name: string }) => `${String(m.version).padStart(3, '0')}_${m.name}`;

/** Creates the database if needed and applies pending migrations (the service also does this at start). */
export async function migrateCommand(
  io: CliIo,
  global: GlobalOptions,
  options: { dryRun?: boolean },
): Promise<ExitCode> {
  const config = loadCliConfig(io, global);
  const exists = existsSync(config.dbPath);
  if (options.dryRun && !exists) {
    writeLine(
      io.stdout,
      `${config.dbPath} does not exist; migrate would create it and apply every migration`,
    );
    return EXIT.ok;
  }
  let db: ReturnType<typeof openDatabase>;
  try {
    db = openDatabase(config.dbPath, { readonly: options.dryRun === true });
  } catch (error) {
    throw databaseError(config.dbPath, error);
  }
  try {
    if (options.dryRun) {
      if (isOriginalDatabase(db)) throw databaseError(config.dbPath, new Error(ORIGINAL_DATABASE_MESSAGE));
      const { applied, pending } = migrationStatus(db);
      writeLine(io.stdout, `${config.dbPath}: ${applied.length} applied`);
      for (const m of pending) writeLine(io.stdout, `would apply ${label(m)}`);
      if (pending.length === 0) writeLine(io.stdout, 'up to date');
      return EXIT.ok;
    }
    const before = migrationStatus(db);
    let applied: number[];
    try {
      applied = migrate(db);
    } catch (error) {
      throw databaseError(config.dbPath, error);
    }
    for (const version of applied) {
      const m = before.pending.find((p) => p.version === version);
      writeLine(io.stdout, `applied ${m ? label(m) : version}`);
    }
    if (applied.length === 0) writeLine(io.stdout, `${config.dbPath} is up to date`);
    return EXIT.ok;
  } finally {
    db.close();
  }
}
