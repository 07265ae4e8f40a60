import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { backupDatabase } from '../storage/sqlite/backup.js';
import { type CliIo, databaseError, type GlobalOptions, loadCliConfig, writeLine } from './context.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { createProgress } from './progress.js';

export interface BackupCommandOptions {
  force?: boolean;
  pagesPerStep?: string;
}

function stamp(nowMs: number): string {
  return new Date(nowMs)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/**
 * Copies the live database to a file, consistent as of one commit, while the service keeps
 * ingesting. Without a destination the copy goes to backups/ beside the database.
 */
export async function backupCommand(
  io: CliIo,
  global: GlobalOptions,
  destinationArg: string | undefined,
  options: BackupCommandOptions,
): Promise<ExitCode> {
  let pagesPerStep: number | undefined;
  if (options.pagesPerStep !== undefined) {
    pagesPerStep = Number(options.pagesPerStep);
    if (!/^\d+$/.test(options.pagesPerStep) || pagesPerStep < 1)
      throw new CliError(
        EXIT.usage,
        `--pages-per-step must be a positive whole number (got "${options.pagesPerStep}")`,
      );
  }
  const config = loadCliConfig(io, global);
  if (!existsSync(config.dbPath))
    throw new CliError(EXIT.database, `there is no database at ${config.dbPath}`);

  const fileName = `${path.basename(config.dbPath).replace(/\.[^.]*$/, '')}-${stamp(Date.now())}.sqlite`;
  let destination: string;
  if (destinationArg === undefined) {
    const dir = path.join(path.dirname(config.dbPath), 'backups');
    mkdirSync(dir, { recursive: true });
    destination = path.join(dir, fileName);
  } else {
    const resolved = path.resolve(io.cwd, destinationArg);
    destination =
      existsSync(resolved) && statSync(resolved).isDirectory() ? path.join(resolved, fileName) : resolved;
  }
  if (!existsSync(path.dirname(destination)))
    throw new CliError(EXIT.input, `the directory ${path.dirname(destination)} does not exist`);
  if (path.resolve(destination) === path.resolve(config.dbPath))
    throw new CliError(EXIT.input, 'the backup cannot replace the database it copies');
  if (existsSync(destination) && !options.force)
    throw new CliError(EXIT.input, `${destination} exists; pass --force to replace it`);

  const progress = createProgress(io.stderr, 'backup', 'pages');
  let result: Awaited<ReturnType<typeof backupDatabase>>;
  try {
    result = await backupDatabase(config.dbPath, destination, {
      ...(pagesPerStep === undefined ? {} : { pagesPerStep }),
      onProgress: ({ totalPages, remainingPages }) => {
        progress.setTotal(totalPages);
        progress.update(totalPages - remainingPages);
      },
    });
  } catch (error) {
    throw databaseError(config.dbPath, error);
  } finally {
    progress.stop();
  }
  writeLine(io.stdout, destination);
  writeLine(
    io.stderr,
    `backed up ${config.dbPath}: ${result.usageRows} usage rows, ${result.tokens} tokens, ${result.bytes} bytes` +
      (result.restarts > 0 ? ` (restarted ${result.restarts} times by concurrent writes)` : '') +
      '; integrity check ok',
  );
  return EXIT.ok;
}
