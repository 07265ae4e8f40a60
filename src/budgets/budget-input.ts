import { AppError } from '../errors.js';
import { MAX_TAG_VALUE_LENGTH, MAX_TAGS, TAG_KEY } from '../ingest/record-schema.js';
import { usdToNano } from '../lib/money.js';
import { isValidTimeZone } from '../lib/zoned-time.js';
import type { BudgetScope, BudgetWindowSpec, NewBudget, TagFilter } from '../storage/store.js';
import { DEFAULT_THRESHOLDS_BP } from './verdict.js';

/**
 * A budget as the API and the CLI write it, checked and turned into a NewBudget. The JSON schema
 * (http/budgets.ts) has already checked the shapes; this checks what a schema cannot say, with a
 * message naming the field.
 */

export interface BudgetInputBody {
  name: string;
  limit_usd: number;
  window:
    | { kind: 'day' | 'week' | 'month'; tz?: string }
    | { kind: 'rolling'; hours?: number; days?: number };
  scope?: {
    token_id?: number;
    model?: string;
    provider?: string;
    user?: string;
    tags?: Record<string, string>;
  };
  thresholds?: number[];
  forecast_alert?: boolean;
  channel_ids?: number[] | null;
}

/** A year and a day: the longest rolling window (its counters stay a few thousand rows). */
export const MAX_ROLLING_HOURS = 366 * 24;
export const MAX_LIMIT_USD = 1_000_000_000;

function fail(message: string): never {
  throw new AppError('invalid_request', message);
}

function parseWindow(window: BudgetInputBody['window']): BudgetWindowSpec {
  if (window.kind === 'rolling') {
    const { hours, days } = window;
    if ((hours === undefined) === (days === undefined))
      fail('window of kind rolling needs exactly one of hours or days');
    const total = hours ?? (days ?? 0) * 24;
    if (!Number.isInteger(total) || total < 1 || total > MAX_ROLLING_HOURS)
      fail(`window must be 1 to ${MAX_ROLLING_HOURS} hours long (got ${total})`);
    return { kind: 'rolling', hours: total };
  }
  const timeZone = window.tz ?? 'UTC';
  if (!isValidTimeZone(timeZone))
    fail(`window.tz must be an IANA time zone such as UTC or Europe/Paris (got "${timeZone.slice(0, 64)}")`);
  return { kind: window.kind, timeZone };
}

function parseScope(scope: BudgetInputBody['scope'] = {}): BudgetScope {
  const result: BudgetScope = {};
  if (scope.token_id !== undefined) result.tokenId = scope.token_id;
  if (scope.model !== undefined) {
    const model = scope.model.trim();
    if (model === '' || model === '*') fail('scope.model must name a model or a prefix like gpt-4o*');
    if (model.endsWith('*')) {
      const prefix = model.slice(0, -1);
      if (prefix.includes('*')) fail('scope.model may only end with one * (a prefix)');
      result.modelPrefix = prefix;
    } else {
      if (model.includes('*')) fail('scope.model may only have a * at its end (a prefix)');
      result.model = model;
    }
  }
  if (scope.provider !== undefined) {
    const provider = scope.provider.trim().toLowerCase();
    if (provider === '') fail('scope.provider must not be empty');
    result.provider = provider;
  }
  if (scope.user !== undefined) {
    const user = scope.user.trim();
    if (user === '') fail('scope.user must not be empty');
    result.user = user;
  }
  if (scope.tags !== undefined) {
    const entries = Object.entries(scope.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length > MAX_TAGS) fail(`scope.tags may have at most ${MAX_TAGS} tags`);
    const tags: TagFilter[] = [];
    for (const [key, value] of entries) {
      if (!TAG_KEY.test(key)) fail(`scope.tags key "${key.slice(0, 64)}" must be 1-64 of A-Z a-z 0-9 _ . -`);
      if (value === '' || value.length > MAX_TAG_VALUE_LENGTH)
        fail(`scope.tags.${key} must be 1-${MAX_TAG_VALUE_LENGTH} characters`);
      tags.push({ key, value });
    }
    if (tags.length > 0) result.tags = tags;
  }
  return result;
}

function parseThresholds(thresholds: readonly number[] | undefined): number[] {
  if (thresholds === undefined) return [...DEFAULT_THRESHOLDS_BP];
  const bps = thresholds.map((percent) => {
    const bp = Math.round(percent * 100);
    if (!Number.isFinite(percent) || percent <= 0 || percent > 1000 || Math.abs(bp - percent * 100) > 1e-6)
      fail(`thresholds must be percentages from 0.01 to 1000 with at most two decimals (got ${percent})`);
    return bp;
  });
  return [...new Set(bps)].sort((a, b) => a - b);
}

export function parseBudgetInput(body: BudgetInputBody): NewBudget {
  const name = body.name.trim();
  if (name === '' || name.length > 100) fail('name must be 1-100 characters');
  if (!Number.isFinite(body.limit_usd) || body.limit_usd <= 0 || body.limit_usd > MAX_LIMIT_USD)
    fail(`limit_usd must be more than 0 and at most ${MAX_LIMIT_USD}`);
  const limitNanoUsd = usdToNano(body.limit_usd);
  if (limitNanoUsd < 1) fail('limit_usd must be at least one nano-dollar');
  const channelIds =
    body.channel_ids === undefined || body.channel_ids === null ? null : [...new Set(body.channel_ids)];
  return {
    name,
    limitNanoUsd,
    window: parseWindow(body.window),
    scope: parseScope(body.scope),
    thresholdsBp: parseThresholds(body.thresholds),
    forecastAlert: body.forecast_alert ?? false,
    channelIds,
  };
}
