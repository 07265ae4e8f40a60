import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures: HMAC-SHA256 over `<timestamp>.<raw body>` with the channel's secret, sent as
 * `X-CostGuardian-Signature: v1=<hex>` beside `X-CostGuardian-Timestamp: <unix seconds>`. A
 * receiver recomputes it over the bytes it received and refuses old timestamps (replays).
 * docs/budgets.md has a verification snippet.
 */

export const SIGNATURE_HEADER = 'x-costguardian-signature';
export const TIMESTAMP_HEADER = 'x-costguardian-timestamp';

export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

/** True when the signature is right and the timestamp within `toleranceSeconds` of nowSeconds. */
export function verifyWebhook(
  secret: string,
  signature: string,
  timestamp: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const seconds = Number(timestamp);
  if (!Number.isInteger(seconds) || Math.abs(nowSeconds - seconds) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, seconds, body));
  const actual = Buffer.from(signature);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
