import { userInfo } from 'node:os';
import { AppError } from '../errors.js';
import { systemClock } from '../lib/clock.js';
import { formatNanoUsd } from '../lib/money.js';
import { PriceFileError } from '../repricing/price-book.js';
import { repriceResultBody } from '../repricing/reprice-body.js';
import { createRepriceServiceFromConfig, type RepriceResult } from '../repricing/reprice-service.js';
import { parseUsageFilter } from '../usage-filter.js';
import {
  type CliIo,
  fromAppError,
  type GlobalOptions,
  loadCliConfig,
  openCliStore,
  writeLine,
} from './context.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';

export interface RepriceOptions {
  model?: string;
  start?: string;
  end?: string;
  apply?: boolean;
  actor?: string;
  json?: boolean;
  /** commander's --no-infer-provider sets it to false. */
  inferProvider?: boolean;
}

const usd = (nano: number) => `$${formatNanoUsd(nano)}`;
const signed = (nano: number) => (nano > 0 ? `+${usd(nano)}` : nano < 0 ? `-${usd(-nano)}` : usd(0));

function describe(result: RepriceResult): string[] {
  const lines = [
    `${result.dryRun ? 'dry run (nothing written; --apply writes)' : `applied, audit id ${result.auditId ?? 'none (nothing changed)'}`}: ` +
      `${result.rows} rows in scope, ${result.changed} priced differently now` +
      (result.skipped > 0 ? `, ${result.skipped} changed by someone else meanwhile and left alone` : ''),
    `total ${usd(result.oldTotalNanoUsd)} -> ${usd(result.newTotalNanoUsd)} (${signed(result.deltaNanoUsd)}); ` +
      `unpriced rows ${result.unpricedBefore} -> ${result.unpricedAfter}`,
  ];
  for (const move of result.providerMoves) {
    lines.push(`  ${move.model}: ${move.rows} rows move from provider ${move.from} to ${move.to}`);
  }
  for (const entry of result.byModel.filter((e) => e.changed > 0)) {
    lines.push(
      `  ${entry.provider}/${entry.model}: ${entry.changed} of ${entry.rows} rows, ${signed(entry.deltaNanoUsd)}`,
    );
  }
  lines.push(`prices: ${result.priceSources.join(', ')}`);
  return lines;
}

/** Prices stored usage again with the prices the server uses; a dry run unless --apply. */
export async function repriceCommand(
  io: CliIo,
  global: GlobalOptions,
  options: RepriceOptions,
): Promise<ExitCode> {
  let scope: ReturnType<typeof parseUsageFilter>;
  try {
    scope = parseUsageFilter({
      ...(options.model === undefined ? {} : { model: options.model }),
      ...(options.start === undefined ? {} : { start: options.start }),
      ...(options.end === undefined ? {} : { end: options.end }),
    });
  } catch (error) {
    if (error instanceof AppError) throw fromAppError(error);
    throw error;
  }
  const config = loadCliConfig(io, global);
  const store = openCliStore(config);
  try {
    const service = await createRepriceServiceFromConfig({
      config,
      store,
      clock: systemClock,
      warn: (message) => writeLine(io.stderr, `warning: ${message}`),
    });
    const result = await service.reprice({
      ...scope,
      dryRun: options.apply !== true,
      actor: options.actor ?? `cli:${userInfo().username}`,
      inferProviders: options.inferProvider !== false,
    });
    if (options.json) writeLine(io.stdout, JSON.stringify(repriceResultBody(result), null, 2));
    else for (const line of describe(result)) writeLine(io.stdout, line);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof PriceFileError) throw new CliError(EXIT.config, error.message);
    if (error instanceof AppError) throw fromAppError(error);
    throw error;
  } finally {
    await store.close();
  }
}
