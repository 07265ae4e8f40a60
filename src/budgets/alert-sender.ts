import type { Clock } from '../lib/clock.js';
import type { DeliveryAttempt, DueDelivery, Store } from '../storage/store.js';
import { VERSION } from '../version.js';
import { renderAlert } from './alert-messages.js';
import type { Forecast } from './forecast.js';
import { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook-signature.js';

/**
 * Delivers the outbox: each due delivery is POSTed to its channel once per pass, and the attempt
 * is recorded. A failure (no answer within the timeout, or a status other than 2xx) is retried
 * after 30 s, 1, 2, 4... minutes, at most an hour apart (or the receiver's Retry-After, up to an
 * hour), MAX_ATTEMPTS times in all; then the delivery is marked failed. Deliveries are at least
 * once: a receiver deduplicates with the X-CostGuardian-Delivery header.
 */

export const MAX_ATTEMPTS = 10;
export const FIRST_RETRY_MS = 30_000;
export const MAX_RETRY_MS = 3_600_000;
const DEFAULT_TIMEOUT_MS = 10_000;

/** The wait before the next attempt, after `attempts` failed ones. */
export function retryDelayMs(attempts: number, retryAfterMs: number | null = null): number {
  const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1));
  return retryAfterMs === null ? backoff : Math.min(MAX_RETRY_MS, Math.max(backoff, retryAfterMs));
}

export interface AlertSenderDeps {
  store: Store;
  clock: Clock;
  /** The dashboard's base URL, for links in messages. */
  publicUrl: string;
  /** The budget's forecast now, for budget alerts. */
  forecastFor: (budgetId: number) => Promise<Forecast | null>;
  timeoutMs?: number;
  onError?: (error: unknown) => void;
}

export interface AlertSender {
  /** Attempts every delivery due now, one at a time; returns how many were attempted. */
  deliverDue(): Promise<number>;
  /** Attempts one delivery now, due or not (a "send test"), unless it is already being sent. */
  deliver(delivery: DueDelivery): Promise<DeliveryAttempt | undefined>;
}

function retryAfter(header: string | null, nowMs: number): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

export function createAlertSender(deps: AlertSenderDeps): AlertSender {
  const { store, clock } = deps;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const sending = new Set<number>();

  async function post(
    delivery: DueDelivery,
  ): Promise<{ ok: boolean; status: number | null; error: string | null; retryAfterMs: number | null }> {
    const { event, channel } = delivery;
    const forecast =
      event.budgetId === null ? null : await deps.forecastFor(event.budgetId).catch(() => null);
    const body = renderAlert(channel.kind, event, {
      publicUrl: deps.publicUrl,
      deliveryId: delivery.id,
      forecast,
    });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `cost-guardian/${VERSION}`,
      'x-costguardian-delivery': String(delivery.id),
      'x-costguardian-alert': String(event.id),
    };
    if (channel.kind === 'webhook' && channel.secret) {
      const timestamp = Math.floor(clock.now() / 1000);
      headers[TIMESTAMP_HEADER] = String(timestamp);
      headers[SIGNATURE_HEADER] = signWebhook(channel.secret, timestamp, body);
    }
    try {
      const response = await fetch(channel.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      const ok = response.status >= 200 && response.status < 300;
      return {
        ok,
        status: response.status,
        error: ok ? null : `HTTP ${response.status}`,
        retryAfterMs: ok ? null : retryAfter(response.headers.get('retry-after'), clock.now()),
      };
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs / 1000} s`
          : (cause?.code ?? cause?.message ?? (error as Error).message);
      return { ok: false, status: null, error: String(reason).slice(0, 500), retryAfterMs: null };
    }
  }

  async function deliver(delivery: DueDelivery): Promise<DeliveryAttempt | undefined> {
    if (sending.has(delivery.id)) return undefined;
    sending.add(delivery.id);
    try {
      const result = await post(delivery);
      const at = clock.now();
      const attempts = delivery.attempts + 1;
      const attempt: DeliveryAttempt = {
        at,
        ok: result.ok,
        statusCode: result.status,
        error: result.error,
        nextAttemptAt:
          result.ok || attempts >= MAX_ATTEMPTS ? null : at + retryDelayMs(attempts, result.retryAfterMs),
      };
      await store.alerts.recordAttempt(delivery.id, attempt);
      return attempt;
    } finally {
      sending.delete(delivery.id);
    }
  }

  return {
    deliver,
    async deliverDue() {
      let attempted = 0;
      for (const delivery of await store.alerts.dueDeliveries(clock.now(), 100)) {
        try {
          if (await deliver(delivery)) attempted += 1;
        } catch (error) {
          deps.onError?.(error);
        }
      }
      return attempted;
    },
  };
}
