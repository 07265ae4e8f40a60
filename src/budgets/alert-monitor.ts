import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { usdToNano } from '../lib/money.js';
import type { DeliveryLogEntry, NewAlertEvent, Store } from '../storage/store.js';
import { anomalyAlert, driftAlert, forecastAlert, testAlert, unpricedAlert } from './alert-events.js';
import type { AlertSender } from './alert-sender.js';
import {
  type AlertSettings,
  type AlertSettingsBody,
  mergeSettings,
  parseSettings,
  toSettingsBody,
} from './alert-settings.js';
import { type Baseline, baselines, findAnomalies } from './anomaly.js';
import type { BudgetService } from './budget-service.js';
import { bucketOf, DAY_MS, HOUR_MS } from './window.js';

/**
 * The alert service the server runs beside the HTTP API. Each pass: threshold alerts that writes
 * did not catch (a lowered limit, a reprice from the CLI), forecast overruns, spend anomalies,
 * unpriced models, then the due deliveries. Every rule records its alert through the outbox with
 * a dedupe key, so a rule can be evaluated any number of times (and after restarts) and still
 * alert once. Time comes from the injected clock: tests call runOnce() after moving it.
 */

export interface AlertMonitor {
  /** One pass of every rule, then every due delivery. */
  runOnce(): Promise<void>;
  /** The due deliveries only. */
  deliverDue(): Promise<void>;
  settings(): Promise<AlertSettings>;
  saveSettings(body: AlertSettingsBody): Promise<AlertSettings>;
  /**
   * Records a provider-drift alert (reconciliation with provider reports) for every enabled channel
   * and delivers it within a second; once per drift (its dedupe key).
   */
  recordDrift(drift: Parameters<typeof driftAlert>[0]): Promise<void>;
  /** Records a test alert for the channel and attempts it at once; the delivery afterwards. */
  sendTest(channelId: number): Promise<DeliveryLogEntry>;
  /** Runs passes on a timer: deliveries every intervalMs, rules every rulesEveryMs. */
  start(options?: { intervalMs?: number; rulesEveryMs?: number }): void;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

export interface AlertMonitorDeps {
  store: Store;
  clock: Clock;
  budgets: BudgetService;
  sender: AlertSender;
  onError?: (error: unknown, step: string) => void;
}

/** A forecast overrun alerts once a tenth of the window has passed (earlier forecasts are noise). */
export const FORECAST_MIN_ELAPSED = 0.1;

export function createAlertMonitor(deps: AlertMonitorDeps): AlertMonitor {
  const { store, clock, budgets, sender } = deps;
  const recorded = new Set<string>();
  let baseline:
    | { hourMs: number; weeks: number; sensitivity: number; map: Map<string, Baseline> }
    | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> | undefined;
  let lastRulesAt = Number.NEGATIVE_INFINITY;
  let unsubscribe: (() => void) | undefined;
  let kick: ReturnType<typeof setTimeout> | undefined;

  const report = (step: string) => (error: unknown) => deps.onError?.(error, step);

  async function record(event: NewAlertEvent, channelIds: readonly number[] | null): Promise<void> {
    if (recorded.has(event.dedupeKey)) return;
    await store.alerts.recordEvent(event, channelIds);
    if (recorded.size >= 10_000) recorded.clear();
    recorded.add(event.dedupeKey);
  }

  async function forecastRule(nowMs: number): Promise<void> {
    for (const view of await budgets.list()) {
      const { budget, window, forecast } = view;
      if (!budget.forecastAlert || !forecast || window.costNanoUsd >= budget.limitNanoUsd) continue;
      const elapsed =
        budget.window.kind === 'rolling' ? 1 : (nowMs - window.startMs) / (window.endMs - window.startMs);
      if (elapsed < FORECAST_MIN_ELAPSED || forecast.projectedNanoUsd <= budget.limitNanoUsd) continue;
      const event = forecastAlert(
        budget,
        window,
        {
          spentNanoUsd: window.costNanoUsd,
          projectedNanoUsd: forecast.projectedNanoUsd,
          lowNanoUsd: forecast.lowNanoUsd,
          highNanoUsd: forecast.highNanoUsd,
          limitReachedAtMs: forecast.limitReachedAtMs,
        },
        nowMs,
      );
      await record(event, budget.channelIds);
    }
  }

  async function unpricedRule(nowMs: number): Promise<void> {
    const dayStartMs = bucketOf(nowMs, DAY_MS);
    for (const model of await store.alerts.unpricedModels(dayStartMs, bucketOf(nowMs, HOUR_MS) + HOUR_MS)) {
      await record(unpricedAlert({ ...model, dayStartMs }, nowMs), null);
    }
  }

  async function anomalyRule(nowMs: number, settings: AlertSettings['anomaly']): Promise<void> {
    const hourMs = bucketOf(nowMs, HOUR_MS);
    const { baselineWeeks: weeks, sensitivity } = settings;
    if (
      !baseline ||
      baseline.hourMs !== hourMs ||
      baseline.weeks !== weeks ||
      baseline.sensitivity !== sensitivity
    ) {
      const from = hourMs - weeks * 7 * DAY_MS;
      const costs = [
        ...(await store.alerts.hourlyCosts('token', from, hourMs)),
        ...(await store.alerts.hourlyCosts('model', from, hourMs)),
      ];
      baseline = {
        hourMs,
        weeks,
        sensitivity,
        map: baselines(costs, hourMs, { sensitivity, baselineWeeks: weeks }),
      };
    }
    const current = [
      ...(await store.alerts.hourlyCosts('token', hourMs, hourMs + HOUR_MS)),
      ...(await store.alerts.hourlyCosts('model', hourMs, hourMs + HOUR_MS)),
    ];
    const found = findAnomalies(baseline.map, current, hourMs, {
      minHourlyNanoUsd: usdToNano(settings.minHourlyUsd),
    });
    for (const anomaly of found) {
      const { subject, label, hourStartMs, costNanoUsd, expectedNanoUsd, thresholdNanoUsd } = anomaly;
      await record(
        anomalyAlert({ subject, label, hourStartMs, costNanoUsd, expectedNanoUsd, thresholdNanoUsd }, nowMs),
        null,
      );
    }
  }

  async function rules(): Promise<void> {
    const nowMs = clock.now();
    lastRulesAt = nowMs;
    const settings = parseSettings(await store.alerts.readSettings());
    await store.budgets.checkThresholds(nowMs).catch(report('thresholds'));
    await forecastRule(nowMs).catch(report('forecast'));
    if (settings.unpriced.enabled) await unpricedRule(nowMs).catch(report('unpriced'));
    if (settings.anomaly.enabled) await anomalyRule(nowMs, settings.anomaly).catch(report('anomaly'));
  }

  function exclusive(work: () => Promise<void>): Promise<void> {
    const previous = running ?? Promise.resolve();
    const next = previous.then(work, work).finally(() => {
      if (running === next) running = undefined;
    });
    running = next;
    return next;
  }

  const deliverDue = () =>
    exclusive(async () => {
      await sender.deliverDue().catch(report('deliveries'));
    });

  return {
    runOnce: () =>
      exclusive(async () => {
        await rules();
        await sender.deliverDue().catch(report('deliveries'));
      }),

    deliverDue,

    async settings() {
      return parseSettings(await store.alerts.readSettings());
    },

    async saveSettings(body) {
      const merged = mergeSettings(parseSettings(await store.alerts.readSettings()), body);
      await store.alerts.saveSettings(JSON.stringify(toSettingsBody(merged)), clock.now());
      baseline = undefined;
      return merged;
    },

    async recordDrift(drift) {
      await record(driftAlert(drift, clock.now()), null);
      void deliverDue();
    },

    async sendTest(channelId) {
      const channel = await store.alerts.getChannel(channelId);
      if (!channel) throw new AppError('not_found', `No alert channel with id ${channelId}`);
      if (!channel.enabled)
        throw new AppError('conflict', `Channel "${channel.name}" is disabled: enable it to send a test`);
      const nowMs = clock.now();
      const recordedEvent = await store.alerts.recordEvent(testAlert(channel, nowMs, randomUUID()), [
        channel.id,
      ]);
      const deliveryId = recordedEvent?.deliveryIds[0];
      const pending = deliveryId === undefined ? undefined : await store.alerts.getDelivery(deliveryId);
      if (!pending || deliveryId === undefined) throw new Error('the test alert was not recorded');
      await sender.deliver({ ...pending, channel });
      const delivery = await store.alerts.getDelivery(deliveryId);
      if (!delivery) throw new Error('the test delivery vanished');
      return delivery;
    },

    start(options = {}) {
      if (timer) return;
      const intervalMs = options.intervalMs ?? 15_000;
      const rulesEveryMs = options.rulesEveryMs ?? 60_000;
      void budgets.resume().catch(report('resume'));
      timer = setInterval(() => {
        const due = clock.now() - lastRulesAt >= rulesEveryMs;
        void exclusive(async () => {
          if (due) await rules().catch(report('rules'));
          await sender.deliverDue().catch(report('deliveries'));
        });
      }, intervalMs);
      timer.unref();
      // Threshold alerts are recorded by the writes that cross them: deliver them within a second.
      unsubscribe = store.onUsageChange(() => {
        if (kick) return;
        kick = setTimeout(() => {
          kick = undefined;
          void deliverDue();
        }, 1000);
        kick.unref();
      });
    },

    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (kick) clearTimeout(kick);
      kick = undefined;
      unsubscribe?.();
      unsubscribe = undefined;
      await running;
    },
  };
}
