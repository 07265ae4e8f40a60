import { nanoToUsd } from '../lib/money.js';
import { formatIsoTime } from '../lib/time.js';
import type { AlertChannelKind, AlertEvent } from '../storage/store.js';
import { type AlertPayload, parsePayload } from './alert-events.js';
import type { Forecast } from './forecast.js';

/**
 * How an alert reads (pure): one sentence of text, the JSON body of a webhook, and a Slack
 * message. Numbers are rounded for people in the text and exact in the JSON fields.
 */

export interface RenderContext {
  /** The dashboard's address, e.g. https://costs.example.com (no trailing slash). */
  publicUrl: string;
  deliveryId: number;
  /** The budget's forecast now, for budget alerts; null when unknown. */
  forecast: Forecast | null;
}

export function money(nano: number): string {
  return formatUsdText(nanoToUsd(nano));
}

/** Dollars for people: cents, or three significant digits below a cent ($0.00045). */
export function formatUsdText(usd: number): string {
  if (usd !== 0 && Math.abs(usd) < 0.01) return `$${Number(usd.toPrecision(3))}`;
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function minute(ms: number): string {
  return `${formatIsoTime(ms).slice(0, 16).replace('T', ' ')} UTC`;
}

function percent(bp: number): string {
  return `${Number((bp / 100).toFixed(2))}%`;
}

export function dashboardLink(payload: AlertPayload, publicUrl: string): string {
  const view =
    payload.kind === 'anomaly' || payload.kind === 'unpriced'
      ? 'usage'
      : payload.kind === 'drift'
        ? 'reports'
        : 'budgets';
  const budget = 'budgetId' in payload ? `&budget=${payload.budgetId}` : '';
  return `${publicUrl}/dashboard?view=${view}${budget}`;
}

function forecastSentence(forecast: Forecast | null): string {
  if (!forecast) return '';
  const range = `${money(forecast.lowNanoUsd)}-${money(forecast.highNanoUsd)}`;
  const reach =
    forecast.limitReachedAtMs === null
      ? 'the limit is not reached in this window'
      : `the limit is reached at about ${minute(forecast.limitReachedAtMs)}`;
  return ` Forecast at ${minute(forecast.atMs)}: ${money(forecast.projectedNanoUsd)} (range ${range}); ${reach}.`;
}

/** One or two sentences saying what happened, with the numbers. */
export function alertText(payload: AlertPayload, forecast: Forecast | null): string {
  switch (payload.kind) {
    case 'threshold': {
      const unpriced =
        payload.unpricedRequests > 0 ? ` plus ${payload.unpricedRequests} unpriced requests` : '';
      return (
        `Budget "${payload.budgetName}" reached ${percent(payload.thresholdBp)} of its limit: ` +
        `${money(payload.spentNanoUsd)} of ${money(payload.limitNanoUsd)}${unpriced} in the window ` +
        `${minute(payload.windowStartMs)} to ${minute(payload.windowEndMs)}.` +
        forecastSentence(forecast)
      );
    }
    case 'forecast': {
      const reach =
        payload.limitReachedAtMs === null
          ? ''
          : `, reaching the limit around ${minute(payload.limitReachedAtMs)}`;
      return (
        `Budget "${payload.budgetName}" is forecast to end its window at ${money(payload.projectedNanoUsd)} ` +
        `(range ${money(payload.lowNanoUsd)}-${money(payload.highNanoUsd)}), over its limit of ` +
        `${money(payload.limitNanoUsd)}${reach}. Spent so far: ${money(payload.spentNanoUsd)}; the window ends ` +
        `${minute(payload.windowEndMs)}.`
      );
    }
    case 'anomaly':
      return (
        `Unusual spend: ${payload.subject.startsWith('token:') ? 'tracking token' : 'model'} "${payload.label}" ` +
        `cost ${money(payload.costNanoUsd)} in the hour from ${minute(payload.hourStartMs)}, against a usual ` +
        `${money(payload.expectedNanoUsd)} for that hour of the week (alert level ${money(payload.thresholdNanoUsd)}).`
      );
    case 'unpriced':
      return (
        `Usage of a model with no price: ${payload.provider}/${payload.model} (${payload.requests} requests on ` +
        `${formatIsoTime(payload.dayStartMs).slice(0, 10)} so far). Its cost is not in any total until a price ` +
        `override covers it and the usage is repriced.`
      );
    case 'drift': {
      const project = payload.projectId ? ` (project ${payload.projectId})` : '';
      const direction =
        payload.driftNanoUsd > 0
          ? 'the provider reports more than Cost Guardian tracked: usage from somewhere nobody instruments?'
          : 'Cost Guardian tracked more than the provider reports: a wrong price, or a call counted twice?';
      const share = payload.driftPercent === null ? '' : ` (${Number(payload.driftPercent.toFixed(1))}%)`;
      return (
        `Provider drift on ${payload.day} for ${payload.provider}/${payload.model}${project}: tracked ` +
        `${money(payload.pushedCostNanoUsd)}, provider ${money(payload.reportedCostNanoUsd)}` +
        `${payload.reportedCostSource === 'estimated' ? ' (its usage at our prices)' : ''}, a difference of ` +
        `${money(Math.abs(payload.driftNanoUsd))}${share}; ${direction}`
      );
    }
    case 'test':
      return `Test alert from Cost Guardian to channel "${payload.channelName}": this channel works.`;
  }
}

function forecastBody(forecast: Forecast | null) {
  if (!forecast) return null;
  return {
    at: formatIsoTime(forecast.atMs),
    projected_usd: nanoToUsd(forecast.projectedNanoUsd),
    low_usd: nanoToUsd(forecast.lowNanoUsd),
    high_usd: nanoToUsd(forecast.highNanoUsd),
    limit_reached_at: forecast.limitReachedAtMs === null ? null : formatIsoTime(forecast.limitReachedAtMs),
  };
}

function details(payload: AlertPayload): Record<string, unknown> {
  switch (payload.kind) {
    case 'threshold':
    case 'forecast': {
      const budget = {
        id: payload.budgetId,
        name: payload.budgetName,
        limit_usd: nanoToUsd(payload.limitNanoUsd),
        window_start: formatIsoTime(payload.windowStartMs),
        window_end: formatIsoTime(payload.windowEndMs),
      };
      return payload.kind === 'threshold'
        ? {
            budget,
            threshold_percent: payload.thresholdBp / 100,
            spent_usd: nanoToUsd(payload.spentNanoUsd),
            unpriced_requests: payload.unpricedRequests,
          }
        : {
            budget,
            spent_usd: nanoToUsd(payload.spentNanoUsd),
            projected_usd: nanoToUsd(payload.projectedNanoUsd),
            low_usd: nanoToUsd(payload.lowNanoUsd),
            high_usd: nanoToUsd(payload.highNanoUsd),
            limit_reached_at:
              payload.limitReachedAtMs === null ? null : formatIsoTime(payload.limitReachedAtMs),
          };
    }
    case 'anomaly':
      return {
        subject: payload.subject,
        label: payload.label,
        hour_start: formatIsoTime(payload.hourStartMs),
        cost_usd: nanoToUsd(payload.costNanoUsd),
        expected_usd: nanoToUsd(payload.expectedNanoUsd),
        threshold_usd: nanoToUsd(payload.thresholdNanoUsd),
      };
    case 'unpriced':
      return {
        provider: payload.provider,
        model: payload.model,
        day: formatIsoTime(payload.dayStartMs).slice(0, 10),
        requests: payload.requests,
      };
    case 'drift':
      return {
        provider: payload.provider,
        day: payload.day,
        model: payload.model,
        project_id: payload.projectId,
        tracked_usd: nanoToUsd(payload.pushedCostNanoUsd),
        reported_usd: nanoToUsd(payload.reportedCostNanoUsd),
        reported_cost_source: payload.reportedCostSource,
        drift_usd: nanoToUsd(payload.driftNanoUsd),
        drift_percent: payload.driftPercent,
      };
    case 'test':
      return { channel: { id: payload.channelId, name: payload.channelName } };
  }
}

/** Slack mrkdwn treats &, < and > as markup: escaped, so a budget or model name stays text. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The request body for a channel: JSON text, exactly what is signed and sent. */
export function renderAlert(kind: AlertChannelKind, event: AlertEvent, context: RenderContext): string {
  const payload = parsePayload(event.payload);
  const forecast = payload.kind === 'threshold' ? context.forecast : null;
  const text = alertText(payload, forecast);
  const link = dashboardLink(payload, context.publicUrl);
  if (kind === 'slack') {
    return JSON.stringify({ text: `${slackEscape(text)}\n<${link}|Open in Cost Guardian>` });
  }
  return JSON.stringify({
    type: event.kind,
    alert_id: event.id,
    delivery_id: context.deliveryId,
    created_at: formatIsoTime(event.createdAt),
    text,
    dashboard_url: link,
    ...details(payload),
    ...(payload.kind === 'threshold' ? { forecast: forecastBody(forecast) } : {}),
  });
}
