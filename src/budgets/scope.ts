import type { BudgetScope, UsageFilter } from '../storage/store.js';

/**
 * Budget scopes (pure). A scope is a conjunction: every field present must match. Matchers are
 * compiled once per budget into a closure that checks only the fields present, because every
 * ingested record is matched against every budget on the write path.
 */

/** What a matcher reads from a usage row. */
export interface ScopedUsage {
  ingestTokenId: number | null;
  provider: string;
  model: string;
  user?: string | null;
  tags?: Readonly<Record<string, string>> | null;
}

export type ScopeMatcher = (usage: ScopedUsage) => boolean;

const matchAll: ScopeMatcher = () => true;

export function compileScope(scope: BudgetScope): ScopeMatcher {
  const checks: ScopeMatcher[] = [];
  const { tokenId, model, modelPrefix, provider, user, tags } = scope;
  if (tokenId !== undefined) checks.push((u) => u.ingestTokenId === tokenId);
  if (model !== undefined) checks.push((u) => u.model === model);
  if (modelPrefix !== undefined) checks.push((u) => u.model.startsWith(modelPrefix));
  if (provider !== undefined) checks.push((u) => u.provider === provider);
  if (user !== undefined) checks.push((u) => u.user === user);
  for (const tag of tags ?? []) checks.push((u) => u.tags?.[tag.key] === tag.value);
  if (checks.length === 0) return matchAll;
  if (checks.length === 1) return checks[0] as ScopeMatcher;
  return (usage) => {
    for (const check of checks) if (!check(usage)) return false;
    return true;
  };
}

/**
 * The analytics filter of a scope, for the fields analytics can express (all but a model prefix:
 * a prefix is answered as the sum over the models it matches).
 */
export function scopeFilter(scope: BudgetScope): UsageFilter {
  const filter: UsageFilter = {};
  if (scope.tokenId !== undefined) filter.ingestTokenId = scope.tokenId;
  if (scope.model !== undefined) filter.model = scope.model;
  if (scope.provider !== undefined) filter.provider = scope.provider;
  if (scope.user !== undefined) filter.user = scope.user;
  if (scope.tags && scope.tags.length > 0) filter.tags = [...scope.tags];
  return filter;
}

/** "everything", or e.g. "token 3, model gpt-4o*, tag team:search". */
export function describeScope(scope: BudgetScope, tokenLabel?: (id: number) => string | undefined): string {
  const parts: string[] = [];
  if (scope.tokenId !== undefined) {
    const label = tokenLabel?.(scope.tokenId);
    parts.push(label ? `token ${label} (${scope.tokenId})` : `token ${scope.tokenId}`);
  }
  if (scope.model !== undefined) parts.push(`model ${scope.model}`);
  if (scope.modelPrefix !== undefined) parts.push(`model ${scope.modelPrefix}*`);
  if (scope.provider !== undefined) parts.push(`provider ${scope.provider}`);
  if (scope.user !== undefined) parts.push(`user ${scope.user}`);
  for (const tag of scope.tags ?? []) parts.push(`tag ${tag.key}:${tag.value}`);
  return parts.length === 0 ? 'everything' : parts.join(', ');
}
