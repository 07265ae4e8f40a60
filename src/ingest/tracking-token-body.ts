import { groupCostUsd } from '../lib/money.js';
import { formatIsoTime } from '../lib/time.js';
import type { TokenSummary } from '../storage/store.js';
import { maskToken } from './tracking-tokens.js';

/**
 * How a tracking token with its usage looks outside the service: an entry of GET /ingest/tokens
 * and of `cost-guardian tokens list --json`, so that a script can read either.
 */
export function trackingTokenBody(token: TokenSummary) {
  return {
    id: token.id,
    label: token.label,
    token: token.token,
    token_masked: maskToken(token.token),
    active: token.active ? (1 as const) : (0 as const),
    created_at: formatIsoTime(token.createdAt),
    last_seen_at: token.lastSeenAt === null ? null : formatIsoTime(token.lastSeenAt),
    usage_count: token.usageCount,
    cost_usd: groupCostUsd(token.costNanoUsd, token.usageCount, token.unpricedCount),
    unpriced_count: token.unpricedCount,
  };
}
