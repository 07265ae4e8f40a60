import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { MAX_USER_LENGTH, TAG_KEY } from '../ingest/record-schema.js';
import type { TagFilter, UsageFilter } from '../storage/store.js';

/** At most this many `tag` filters in one request. */
export const MAX_TAG_FILTERS = 10;

/** Filters beyond /data's original four, shared by /data and /usage/*. */
export const AttributionFilterQuery = {
  provider: Type.Optional(Type.String({ maxLength: 64, description: 'Exact provider id, e.g. openai.' })),
  user: Type.Optional(Type.String({ maxLength: MAX_USER_LENGTH, description: 'Exact end-user id.' })),
  tag: Type.Optional(
    Type.Union(
      [
        Type.String({ maxLength: 300 }),
        Type.Array(Type.String({ maxLength: 300 }), { maxItems: MAX_TAG_FILTERS }),
      ],
      {
        description:
          'key:value (split at the first colon); repeat the parameter to require several tags at once.',
      },
    ),
  ),
};

export interface AttributionQueryValues {
  provider?: string;
  user?: string;
  tag?: string | string[];
}

export function parseTagFilters(tag: string | string[] | undefined): TagFilter[] {
  if (tag === undefined) return [];
  const items = Array.isArray(tag) ? tag : [tag];
  return items.map((item) => {
    const colon = item.indexOf(':');
    const key = colon < 0 ? item : item.slice(0, colon);
    const value = colon < 0 ? '' : item.slice(colon + 1);
    if (colon < 0 || !TAG_KEY.test(key) || value === '') {
      throw new AppError(
        'invalid_request',
        `tag must look like key:value, e.g. team:search (got "${item.slice(0, 80)}")`,
      );
    }
    return { key, value };
  });
}

/**
 * Adds provider, user and tag to a filter parsed by parseUsageFilter (data.ts). Empty strings mean
 * "no filter", as for /data's own parameters.
 */
export function withAttributionFilter(filter: UsageFilter, query: AttributionQueryValues): UsageFilter {
  if (query.provider !== undefined && query.provider !== '') filter.provider = query.provider.toLowerCase();
  if (query.user !== undefined && query.user.trim() !== '') filter.user = query.user.trim();
  const tags = parseTagFilters(query.tag);
  if (tags.length > 0) filter.tags = tags;
  return filter;
}
