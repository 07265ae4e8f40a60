import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { trackingTokenBody } from '../ingest/tracking-token-body.js';
import { createTrackingToken, maskToken } from '../ingest/tracking-tokens.js';
import { systemClock } from '../lib/clock.js';
import { formatNanoUsd } from '../lib/money.js';
import { formatIsoTime } from '../lib/time.js';
import type { Store } from '../storage/store.js';
import {
  type CliIo,
  fromAppError,
  type GlobalOptions,
  loadCliConfig,
  openCliStore,
  writeLine,
} from './context.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';

async function withStore<T>(
  io: CliIo,
  global: GlobalOptions,
  work: (store: Store, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadCliConfig(io, global);
  const store = openCliStore(config);
  try {
    return await work(store, config);
  } catch (error) {
    if (error instanceof AppError) throw fromAppError(error);
    throw error;
  } finally {
    await store.close();
  }
}

const iso = (ms: number | null) => (ms === null ? null : formatIsoTime(ms));

export function tokensListCommand(
  io: CliIo,
  global: GlobalOptions,
  options: { json?: boolean },
): Promise<ExitCode> {
  return withStore(io, global, async (store) => {
    const tokens = await store.listTokens();
    if (options.json) {
      writeLine(io.stdout, JSON.stringify(tokens.map(trackingTokenBody), null, 2));
      return EXIT.ok;
    }
    if (tokens.length === 0) {
      writeLine(io.stderr, 'no tracking tokens; create one with `cost-guardian tokens create <label>`');
      return EXIT.ok;
    }
    const table = [
      ['ID', 'LABEL', 'TOKEN', 'ACTIVE', 'CREATED', 'LAST SEEN', 'USES', 'COST USD'],
      ...tokens.map((t) => [
        String(t.id),
        t.label,
        maskToken(t.token),
        t.active ? 'yes' : 'no',
        formatIsoTime(t.createdAt),
        iso(t.lastSeenAt) ?? 'never',
        String(t.usageCount),
        formatNanoUsd(t.costNanoUsd),
      ]),
    ];
    const widths =
      table[0]?.map((_, column) => Math.max(...table.map((row) => (row[column] ?? '').length))) ?? [];
    for (const row of table) {
      writeLine(
        io.stdout,
        row
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join('  ')
          .trimEnd(),
      );
    }
    return EXIT.ok;
  });
}

export function tokensCreateCommand(
  io: CliIo,
  global: GlobalOptions,
  label: string,
  options: { json?: boolean },
): Promise<ExitCode> {
  return withStore(io, global, async (store, config) => {
    const token = await createTrackingToken(
      { store, clock: systemClock, tokenLength: config.trackingTokenLength },
      label,
    );
    if (options.json) {
      writeLine(
        io.stdout,
        JSON.stringify({
          id: token.id,
          token: token.token,
          label: token.label,
          created_at: iso(token.createdAt),
        }),
      );
    } else {
      writeLine(io.stdout, token.token);
      writeLine(io.stderr, `created tracking token ${token.id} "${token.label}"`);
    }
    return EXIT.ok;
  });
}

export function tokensDeactivateCommand(io: CliIo, global: GlobalOptions, rawId: string): Promise<ExitCode> {
  const id = Number(rawId);
  if (!/^\d+$/.test(rawId) || !Number.isSafeInteger(id) || id < 1)
    throw new CliError(EXIT.usage, `token id must be a positive whole number (got "${rawId}")`);
  return withStore(io, global, async (store) => {
    const token = await store.setTokenActive(id, false);
    if (!token) throw new CliError(EXIT.refused, `no tracking token with id ${id}`);
    writeLine(io.stdout, `deactivated tracking token ${token.id} "${token.label}"`);
    return EXIT.ok;
  });
}
