import { formatUsdText } from '../budgets/alert-messages.js';
import { type BudgetInputBody, parseBudgetInput } from '../budgets/budget-input.js';
import { type BudgetService, createBudgetService } from '../budgets/budget-service.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { toBudgetBody, toDeliveryBody, toInputBody } from '../http/budgets.js';
import { systemClock } from '../lib/clock.js';
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

/**
 * `cost-guardian budgets list|create|update|delete|deliveries`: the /budgets API from the command
 * line, on the same database (a running service picks the changes up at its next write).
 */

export interface BudgetOptions {
  limitUsd?: string;
  window?: string;
  tz?: string;
  hours?: string;
  days?: string;
  tokenId?: string;
  model?: string;
  provider?: string;
  user?: string;
  tag?: string[];
  thresholds?: string;
  forecastAlert?: boolean;
  channelIds?: string;
  name?: string;
  json?: boolean;
}

async function withBudgets<T>(
  io: CliIo,
  global: GlobalOptions,
  work: (budgets: BudgetService, store: Store, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadCliConfig(io, global);
  const store = openCliStore(config);
  try {
    return await work(createBudgetService({ store, clock: systemClock }), store, config);
  } catch (error) {
    if (error instanceof AppError) throw fromAppError(error);
    throw error;
  } finally {
    await store.close();
  }
}

function positiveId(raw: string, what: string): number {
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id < 1)
    throw new CliError(EXIT.usage, `${what} must be a positive whole number (got "${raw}")`);
  return id;
}

function number(raw: string, option: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value))
    throw new CliError(EXIT.usage, `${option} must be a number (got "${raw}")`);
  return value;
}

/** The options given, as the fields of an API body (left out when not given). */
function bodyFrom(options: BudgetOptions, base: Partial<BudgetInputBody>): Partial<BudgetInputBody> {
  const body: Partial<BudgetInputBody> = { ...base };
  if (options.name !== undefined) body.name = options.name;
  if (options.limitUsd !== undefined) body.limit_usd = number(options.limitUsd, '--limit-usd');
  if (
    options.window !== undefined ||
    options.tz !== undefined ||
    options.hours !== undefined ||
    options.days !== undefined
  ) {
    const kind = options.window ?? base.window?.kind ?? 'month';
    if (kind === 'rolling') {
      body.window = {
        kind,
        ...(options.hours !== undefined ? { hours: number(options.hours, '--hours') } : {}),
        ...(options.days !== undefined ? { days: number(options.days, '--days') } : {}),
      };
    } else if (kind === 'day' || kind === 'week' || kind === 'month') {
      const tz = options.tz ?? (base.window && 'tz' in base.window ? base.window.tz : undefined);
      body.window = { kind, ...(tz ? { tz } : {}) };
    } else {
      throw new CliError(EXIT.usage, `--window must be day, week, month or rolling (got "${kind}")`);
    }
  }
  const scopeGiven = [options.tokenId, options.model, options.provider, options.user, options.tag].some(
    (value) => value !== undefined,
  );
  if (scopeGiven) {
    const scope: NonNullable<BudgetInputBody['scope']> = {};
    if (options.tokenId !== undefined) scope.token_id = positiveId(options.tokenId, '--token-id');
    if (options.model !== undefined) scope.model = options.model;
    if (options.provider !== undefined) scope.provider = options.provider;
    if (options.user !== undefined) scope.user = options.user;
    for (const tag of options.tag ?? []) {
      const colon = tag.indexOf(':');
      if (colon < 1) throw new CliError(EXIT.usage, `--tag must look like key:value (got "${tag}")`);
      scope.tags = { ...scope.tags, [tag.slice(0, colon)]: tag.slice(colon + 1) };
    }
    body.scope = scope;
  }
  if (options.thresholds !== undefined)
    body.thresholds = options.thresholds.split(',').map((part) => number(part, '--thresholds'));
  if (options.forecastAlert !== undefined) body.forecast_alert = options.forecastAlert;
  if (options.channelIds !== undefined)
    body.channel_ids =
      options.channelIds === 'all'
        ? null
        : options.channelIds.split(',').map((id) => positiveId(id, '--channel-ids'));
  return body;
}

function printTable(io: CliIo, rows: string[][]): void {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  for (const row of rows) {
    writeLine(
      io.stdout,
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  }
}

export function budgetsListCommand(
  io: CliIo,
  global: GlobalOptions,
  options: { json?: boolean },
): Promise<ExitCode> {
  return withBudgets(io, global, async (budgets) => {
    const views = (await budgets.list()).map(toBudgetBody);
    if (options.json) {
      writeLine(io.stdout, JSON.stringify(views, null, 2));
      return EXIT.ok;
    }
    if (views.length === 0) {
      writeLine(
        io.stderr,
        'no budgets; create one with `cost-guardian budgets create <name> --limit-usd <amount>`',
      );
      return EXIT.ok;
    }
    printTable(io, [
      ['ID', 'NAME', 'WINDOW', 'SCOPE', 'LIMIT', 'SPENT', 'USED', 'UNPRICED', 'VERDICT', 'FORECAST'],
      ...views.map((b) => [
        String(b.id),
        b.name,
        b.window_label,
        b.scope_label,
        formatUsdText(b.limit_usd),
        formatUsdText(b.current.spent_usd),
        `${b.current.percent_used}%`,
        String(b.current.unpriced_requests),
        b.counted ? b.current.verdict : 'counting',
        b.forecast
          ? `${formatUsdText(b.forecast.projected_usd)} (${formatUsdText(b.forecast.low_usd)}-${formatUsdText(b.forecast.high_usd)})`
          : '-',
      ]),
    ]);
    return EXIT.ok;
  });
}

export function budgetsCreateCommand(
  io: CliIo,
  global: GlobalOptions,
  name: string,
  options: BudgetOptions,
): Promise<ExitCode> {
  if (options.limitUsd === undefined) throw new CliError(EXIT.usage, '--limit-usd is required');
  const body = bodyFrom({ ...options, name }, { window: { kind: 'month' } }) as BudgetInputBody;
  return withBudgets(io, global, async (budgets) => {
    const view = toBudgetBody(await budgets.create(parseBudgetInput(body)));
    if (options.json) writeLine(io.stdout, JSON.stringify(view, null, 2));
    else
      writeLine(
        io.stdout,
        `created budget ${view.id} "${view.name}": ${formatUsdText(view.limit_usd)} per ${view.window_label}, ${view.scope_label}`,
      );
    return EXIT.ok;
  });
}

export function budgetsUpdateCommand(
  io: CliIo,
  global: GlobalOptions,
  rawId: string,
  options: BudgetOptions,
): Promise<ExitCode> {
  const id = positiveId(rawId, 'budget id');
  return withBudgets(io, global, async (budgets, store) => {
    const existing = await store.budgets.get(id);
    if (!existing) throw new CliError(EXIT.refused, `no budget with id ${id}`);
    const body = bodyFrom(options, toInputBody(existing)) as BudgetInputBody;
    const view = toBudgetBody(await budgets.update(id, parseBudgetInput(body)));
    if (options.json) writeLine(io.stdout, JSON.stringify(view, null, 2));
    else writeLine(io.stdout, `updated budget ${view.id} "${view.name}"`);
    return EXIT.ok;
  });
}

export function budgetsDeleteCommand(io: CliIo, global: GlobalOptions, rawId: string): Promise<ExitCode> {
  const id = positiveId(rawId, 'budget id');
  return withBudgets(io, global, async (budgets) => {
    await budgets.delete(id);
    writeLine(io.stdout, `deleted budget ${id}`);
    return EXIT.ok;
  });
}

export function budgetsDeliveriesCommand(
  io: CliIo,
  global: GlobalOptions,
  options: { limit?: string; json?: boolean },
): Promise<ExitCode> {
  const limit = options.limit === undefined ? 20 : positiveId(options.limit, '--limit');
  return withBudgets(io, global, async (_budgets, store) => {
    const deliveries = (await store.alerts.listDeliveries(Math.min(limit, 500))).map(toDeliveryBody);
    if (options.json) {
      writeLine(io.stdout, JSON.stringify(deliveries, null, 2));
      return EXIT.ok;
    }
    if (deliveries.length === 0) {
      writeLine(io.stderr, 'no alerts delivered yet');
      return EXIT.ok;
    }
    printTable(io, [
      ['ID', 'CREATED', 'KIND', 'CHANNEL', 'STATUS', 'ATTEMPTS', 'LAST ERROR'],
      ...deliveries.map((d) => [
        String(d.id),
        d.created_at,
        d.alert.kind,
        d.channel.name ?? `(deleted ${d.channel.id})`,
        d.status,
        String(d.attempts),
        d.last_error ?? '',
      ]),
    ]);
    return EXIT.ok;
  });
}
