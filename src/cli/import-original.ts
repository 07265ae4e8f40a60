import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import {
  type ImportReport,
  importOriginal,
  isComplete,
  TokenConflictError,
} from '../import/import-original.js';
import { formatNanoUsd, nanoToUsd } from '../lib/money.js';
import { parseIsoTime } from '../lib/time.js';
import {
  type ImportTarget,
  openImportTarget,
  openImportTargetReadOnly,
} from '../storage/sqlite/import-writer.js';
import { NotAnOriginalDatabaseError, openOriginalDatabase } from '../storage/sqlite/original-database.js';
import type { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import {
  type CliIo,
  createCliPricer,
  databaseError,
  type GlobalOptions,
  loadCliConfig,
  openCliStore,
  writeLine,
} from './context.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { createProgress } from './progress.js';

export interface ImportOriginalOptions {
  undatedAt?: string;
  dryRun?: boolean;
  json?: boolean;
}

const SKIP_LABELS = {
  missing_timestamp: 'timestamp missing (NULL, e.g. from POST /log)',
  unparseable_timestamp: 'timestamp is not a date',
  missing_model: 'model missing',
  invalid_token_counts: 'token counts are not whole numbers >= 0',
} as const;

/** 1, 2, 3, 7, 9, 10 -> "1-3, 7, 9-10". */
export function formatIds(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j += 1;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

function usd(nano: bigint): string {
  const negative = nano < 0n;
  const abs = negative ? -nano : nano;
  const whole = abs / 1_000_000_000n;
  const fraction = formatNanoUsd(Number(abs % 1_000_000_000n)).replace(/^0/, '');
  return `${negative ? '-' : ''}$${whole}${fraction === '' ? '' : fraction}`;
}

function describe(report: ImportReport, from: string, into: string): string[] {
  const { tokens, usage, cost } = report;
  const would = report.dryRun ? 'would import' : 'imported';
  const lines = [
    `${report.dryRun ? 'dry run: nothing written. ' : ''}from ${from} into ${into}`,
    `tracking tokens: ${tokens.inOriginal} in the original, ${tokens.imported} ${would}, ${tokens.alreadyPresent} already here`,
  ];
  if (tokens.placeholders.length > 0)
    lines.push(
      `  deleted tokens that usage still points at (kept as deleted placeholders): ${formatIds(tokens.placeholders)}`,
    );
  if (tokens.unreadableTimes.length > 0)
    lines.push(`  tokens with unreadable created_at/last_seen_at: ${formatIds(tokens.unreadableTimes)}`);
  lines.push(
    `usage rows: ${usage.inOriginal} in the original, ${usage.imported} ${would}, ${usage.alreadyImported} already here`,
  );
  if (usage.naiveTimestamps > 0)
    lines.push(`  timestamps without a time zone, read as UTC: ${usage.naiveTimestamps}`);
  if (usage.undated.length > 0)
    lines.push(`  given the --undated-at time (original text kept in meta): ${formatIds(usage.undated)}`);
  for (const [reason, ids] of Object.entries(usage.skipped)) {
    if (ids.length > 0)
      lines.push(
        `  NOT imported, ${SKIP_LABELS[reason as keyof typeof SKIP_LABELS]} (${ids.length}): ${formatIds(ids)}`,
      );
  }
  if (usage.eventConflicts.length > 0)
    lines.push(
      `  NOT imported, event_id already used here by another row (${usage.eventConflicts.length}): ${usage.eventConflicts
        .map((c) => `${c.originalId} (ours: ${c.existingId})`)
        .join(', ')}`,
    );
  if (usage.unreadableCosts.length > 0)
    lines.push(`  estimatedCostUSD unreadable, kept without it: ${formatIds(usage.unreadableCosts)}`);
  lines.push(
    `cost of the convertible rows: ${usd(cost.originalNanoUsd)} as the original stored it, ${usd(cost.pricedNanoUsd)} priced now` +
      ` (rows of unknown models, unpriced: ${cost.unpricedRows}; rows priced differently: ${cost.differingRows})`,
  );
  if (
    !isComplete(report) &&
    usage.skipped.missing_timestamp.length + usage.skipped.unparseable_timestamp.length > 0
  )
    lines.push(
      'rows without a usable timestamp can be imported at a time you choose with --undated-at <ISO time>',
    );
  return lines;
}

/** The report for --json, in the API's conventions: snake_case, USD as numbers beside nano-USD. */
function jsonReport(report: ImportReport): string {
  const { tokens, usage, cost } = report;
  const body = {
    dry_run: report.dryRun,
    tokens: {
      in_original: tokens.inOriginal,
      imported: tokens.imported,
      already_present: tokens.alreadyPresent,
      placeholders: tokens.placeholders,
      unreadable_times: tokens.unreadableTimes,
    },
    usage: {
      in_original: usage.inOriginal,
      imported: usage.imported,
      already_imported: usage.alreadyImported,
      undated: usage.undated,
      naive_timestamps: usage.naiveTimestamps,
      skipped: usage.skipped,
      event_conflicts: usage.eventConflicts.map((c) => ({
        original_id: c.originalId,
        existing_id: c.existingId,
      })),
      unreadable_costs: usage.unreadableCosts,
    },
    cost: {
      original_usd: nanoToUsd(Number(cost.originalNanoUsd)),
      priced_usd: nanoToUsd(Number(cost.pricedNanoUsd)),
      original_nanousd: Number(cost.originalNanoUsd),
      priced_nanousd: Number(cost.pricedNanoUsd),
      unpriced_rows: cost.unpricedRows,
      differing_rows: cost.differingRows,
    },
  };
  return JSON.stringify(body, null, 2);
}

export async function importOriginalCommand(
  io: CliIo,
  global: GlobalOptions,
  sourceArg: string,
  options: ImportOriginalOptions,
): Promise<ExitCode> {
  let undatedAtMs: number | undefined;
  if (options.undatedAt !== undefined) {
    const parsed = parseIsoTime(options.undatedAt);
    if (!parsed)
      throw new CliError(
        EXIT.usage,
        `--undated-at must be an ISO-8601 date or time (got "${options.undatedAt}")`,
      );
    undatedAtMs = parsed.ms;
  }
  const config = loadCliConfig(io, global);
  const sourcePath = path.resolve(io.cwd, sourceArg);
  if (!existsSync(sourcePath)) throw new CliError(EXIT.input, `${sourcePath} does not exist`);
  if (existsSync(config.dbPath) && realpathSync(sourcePath) === realpathSync(config.dbPath))
    throw new CliError(
      EXIT.input,
      'the original database cannot be imported into itself: set DB_PATH (or --db) to a new file',
    );

  let source: ReturnType<typeof openOriginalDatabase>;
  try {
    source = openOriginalDatabase(sourcePath);
  } catch (error) {
    if (error instanceof NotAnOriginalDatabaseError) throw new CliError(EXIT.input, error.message);
    throw error;
  }
  let target: ImportTarget | undefined;
  let store: SqliteStore | undefined;
  try {
    target = options.dryRun ? openImportTargetReadOnly(config.dbPath) : openImportTarget(config.dbPath);
    if (!options.dryRun) store = openCliStore(config);
  } catch (error) {
    source.close();
    target?.close();
    throw error instanceof CliError ? error : databaseError(config.dbPath, error);
  }

  const progress = createProgress(io.stderr, 'import', 'rows');
  let report: ImportReport;
  try {
    report = await importOriginal({
      source,
      target,
      store,
      pricer: await createCliPricer(config),
      defaultProvider: config.defaultProvider,
      nowMs: Date.now(),
      dryRun: options.dryRun === true,
      ...(undatedAtMs === undefined ? {} : { undatedAtMs }),
      onProgress: (done, total) => {
        progress.setTotal(total);
        progress.update(done);
      },
    });
  } catch (error) {
    if (error instanceof TokenConflictError)
      throw new CliError(
        EXIT.refused,
        `${error.message}\nnothing was imported; import into a new database (DB_PATH or --db)`,
      );
    throw error;
  } finally {
    progress.stop();
    source.close();
    target?.close();
    await store?.close();
  }

  if (options.json) writeLine(io.stdout, jsonReport(report));
  else for (const line of describe(report, sourcePath, config.dbPath)) writeLine(io.stdout, line);
  return isComplete(report) ? EXIT.ok : EXIT.partial;
}
