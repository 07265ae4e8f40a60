import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { Budget, BudgetWindowState, NewBudget, Store } from '../storage/store.js';
import { type Forecast, forecast } from './forecast.js';
import { bucketOf, HOUR_MS, historyStartMs } from './window.js';

/**
 * Budgets as the API and the CLI see them: saved, counted (a new budget's past is counted before
 * create() returns, in day slices so ingest keeps flowing), and read with their current window and
 * forecast. Reads come from the budget counters, never from usage rows.
 */

export interface BudgetView {
  budget: Budget;
  window: BudgetWindowState;
  /** null while the window is not counted yet. */
  forecast: Forecast | null;
}

export interface BudgetDetail extends BudgetView {
  /** The current window's spend per hour up to now, for the chart. */
  hours: { startMs: number; costNanoUsd: number; unpricedRequests: number }[];
}

export interface BudgetService {
  list(): Promise<BudgetView[]>;
  get(id: number): Promise<BudgetDetail | undefined>;
  create(input: NewBudget): Promise<BudgetView>;
  update(id: number, input: NewBudget): Promise<BudgetView>;
  delete(id: number): Promise<void>;
  /** Counts the past of every budget that is not fully counted (after a restart mid-count). */
  resume(): Promise<void>;
  /** The forecast of one budget now (for alerts). */
  forecastOf(budget: Budget, window: BudgetWindowState): Promise<Forecast | null>;
}

export function createBudgetService(deps: { store: Store; clock: Clock }): BudgetService {
  const { store, clock } = deps;
  const budgets = store.budgets;

  async function count(budget: Budget): Promise<void> {
    const nowMs = clock.now();
    const target = historyStartMs(budget.window, nowMs);
    let countedFrom = budget.countedFromMs;
    while (countedFrom === null || countedFrom > target) {
      const next = await budgets.countHistory(budget.id, target, nowMs);
      if (next === undefined || (countedFrom !== null && next >= countedFrom)) return;
      countedFrom = next;
    }
  }

  async function check(input: NewBudget): Promise<void> {
    const tokenId = input.scope.tokenId;
    if (tokenId !== undefined && !(await store.listTokens()).some((token) => token.id === tokenId)) {
      throw new AppError('invalid_request', `scope.token_id: no tracking token has id ${tokenId}`);
    }
    if (input.channelIds && input.channelIds.length > 0) {
      const known = new Set((await store.alerts.listChannels()).map((channel) => channel.id));
      const missing = input.channelIds.filter((id) => !known.has(id));
      if (missing.length > 0)
        throw new AppError('invalid_request', `channel_ids: no channel has id ${missing.join(', ')}`);
    }
  }

  async function forecastOf(budget: Budget, window: BudgetWindowState): Promise<Forecast | null> {
    if (!window.counted) return null;
    const nowMs = clock.now();
    const startMs = bucketOf(historyStartMs(budget.window, nowMs), HOUR_MS);
    const endMs = bucketOf(nowMs, HOUR_MS) + HOUR_MS;
    return forecast({
      window: budget.window,
      windowStartMs: window.startMs,
      windowEndMs: window.endMs,
      nowMs,
      spentNanoUsd: window.costNanoUsd,
      limitNanoUsd: budget.limitNanoUsd,
      hourlyStartMs: startMs,
      hourly: await budgets.hourlyCosts(budget.id, startMs, endMs, nowMs),
    });
  }

  async function view(budget: Budget): Promise<BudgetView> {
    const states = await budgets.windowStates(clock.now());
    const window = states.find((state) => state.budgetId === budget.id);
    if (!window) throw new AppError('not_found', `No budget with id ${budget.id}`);
    return { budget, window, forecast: await forecastOf(budget, window) };
  }

  async function saved(result: Awaited<ReturnType<typeof budgets.create>>, name: string): Promise<Budget> {
    if (result.status === 'name_taken')
      throw new AppError('conflict', `A budget named "${name}" exists already`);
    if (result.status === 'not_found') throw new AppError('not_found', 'No such budget');
    await count(result.budget);
    return (await budgets.get(result.budget.id)) ?? result.budget;
  }

  return {
    async list() {
      const nowMs = clock.now();
      const [all, states] = await Promise.all([budgets.list(), budgets.windowStates(nowMs)]);
      const byId = new Map(states.map((state) => [state.budgetId, state]));
      const views: BudgetView[] = [];
      for (const budget of all) {
        const window = byId.get(budget.id);
        if (window) views.push({ budget, window, forecast: await forecastOf(budget, window) });
      }
      return views;
    },

    async get(id) {
      const budget = await budgets.get(id);
      if (!budget) return undefined;
      const base = await view(budget);
      const { startMs, endMs } = base.window;
      const hourStart = bucketOf(startMs, HOUR_MS);
      const untilMs = Math.min(endMs, bucketOf(clock.now(), HOUR_MS) + HOUR_MS);
      const hours: BudgetDetail['hours'] = [];
      for (let at = hourStart; at < untilMs; at += HOUR_MS)
        hours.push({ startMs: at, costNanoUsd: 0, unpricedRequests: 0 });
      for (const bucket of await budgets.spendSeries(id, startMs, untilMs)) {
        const hour = hours[Math.floor((bucket.startMs - hourStart) / HOUR_MS)];
        if (!hour) continue;
        hour.costNanoUsd += bucket.costNanoUsd;
        hour.unpricedRequests += bucket.unpricedRequests;
      }
      return { ...base, hours };
    },

    async create(input) {
      await check(input);
      return view(await saved(await budgets.create(input, clock.now()), input.name));
    },

    async update(id, input) {
      await check(input);
      return view(await saved(await budgets.update(id, input, clock.now()), input.name));
    },

    async delete(id) {
      if (!(await budgets.delete(id))) throw new AppError('not_found', `No budget with id ${id}`);
    },

    async resume() {
      for (const budget of await budgets.list()) await count(budget);
    },

    forecastOf,
  };
}
