import { once } from 'node:events';
import { createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import type { ExportFormat } from '../lib/usage-export.js';
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
import { createProgress } from './progress.js';

export interface ExportOptions {
  format?: string;
  output: string;
  start?: string;
  end?: string;
  model?: string;
  tokenId?: string;
  provider?: string;
  user?: string;
  /** key:value, each given with its own --tag. */
  tag?: string[];
  force?: boolean;
}

/** Rows in a chunk of export text: lines, except CSV line breaks inside quoted cells. */
function createRowCounter(format: ExportFormat): (chunk: string) => number {
  if (format === 'jsonl') return (chunk) => chunk.split('\n').length - 1;
  let quoted = false;
  return (chunk) => {
    let rows = 0;
    for (let i = 0; i < chunk.length; i += 1) {
      const c = chunk.charCodeAt(i);
      if (c === 34) quoted = !quoted;
      else if (c === 10 && !quoted) rows += 1;
    }
    return rows;
  };
}

function resolveFormat(options: ExportOptions): ExportFormat {
  const format = options.format ?? (/\.(jsonl|ndjson)$/i.test(options.output) ? 'jsonl' : 'csv');
  if (format !== 'csv' && format !== 'jsonl')
    throw new CliError(EXIT.usage, `--format must be csv or jsonl (got "${format}")`);
  return format;
}

/**
 * Usage rows as CSV (the columns of GET /data?format=csv) or JSON lines (the rows of GET /data), to
 * a file or stdout. A file is written under a temporary name and renamed when complete, so an
 * interrupted export never leaves a truncated file that looks whole.
 */
export async function exportCommand(
  io: CliIo,
  global: GlobalOptions,
  options: ExportOptions,
): Promise<ExitCode> {
  const format = resolveFormat(options);
  let tokenId: number | undefined;
  if (options.tokenId !== undefined) {
    tokenId = Number(options.tokenId);
    if (!/^\d+$/.test(options.tokenId) || !Number.isSafeInteger(tokenId) || tokenId < 1)
      throw new CliError(EXIT.usage, `--token-id must be a positive whole number (got "${options.tokenId}")`);
  }
  let filter: ReturnType<typeof parseUsageFilter>;
  try {
    filter = parseUsageFilter({
      ...(options.start === undefined ? {} : { start: options.start }),
      ...(options.end === undefined ? {} : { end: options.end }),
      ...(options.model === undefined ? {} : { model: options.model }),
      ...(tokenId === undefined ? {} : { ingest_token_id: tokenId }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.tag === undefined ? {} : { tag: options.tag }),
    });
  } catch (error) {
    if (error instanceof AppError) throw fromAppError(error);
    throw error;
  }

  const toStdout = options.output === '-';
  const target = toStdout ? undefined : path.resolve(io.cwd, options.output);
  if (target !== undefined && existsSync(target) && !options.force)
    throw new CliError(EXIT.input, `${target} exists; pass --force to replace it`);

  const config = loadCliConfig(io, global);
  const store = openCliStore(config);
  const partial = target === undefined ? undefined : `${target}.partial-${process.pid}`;
  const file = partial === undefined ? undefined : createWriteStream(partial);
  const out = file ?? io.stdout;
  const progress = createProgress(io.stderr, 'export', 'rows');
  const countRows = createRowCounter(format);
  let rows = -(format === 'csv' ? 1 : 0);
  let bytes = 0;
  try {
    if (Object.keys(filter).length === 0) progress.setTotal((await store.stats(Date.now())).usageRows);
    for await (const chunk of store.exportUsage(filter, format)) {
      rows += countRows(chunk);
      bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
      progress.update(Math.max(0, rows));
    }
    if (file && partial !== undefined && target !== undefined) {
      file.end();
      await once(file, 'finish');
      renameSync(partial, target);
    }
  } catch (error) {
    if (file && partial !== undefined) {
      file.destroy();
      rmSync(partial, { force: true });
    }
    if ((error as { code?: string }).code === 'EPIPE') return EXIT.ok;
    throw error;
  } finally {
    progress.stop();
    await store.close();
  }
  writeLine(
    io.stderr,
    `exported ${rows} ${rows === 1 ? 'row' : 'rows'} (${bytes} bytes, ${format}) to ${target ?? 'stdout'}`,
  );
  return EXIT.ok;
}
