import { AppError } from './errors.js';
import { TAG_KEY } from './ingest/record-schema.js';
import { MS_PER_DAY, parseIsoTime } from './lib/time.js';
import type { TagFilter, UsageFilter } from './storage/store.js';

/**
 * The usage filters of GET /data (and /usage/*, reprice scopes, `cost-guardian export`), parsed
 * from the strings a query or a command line gives. Shared by the HTTP routes and the CLI, so the
 * two accept the same values and refuse the same mistakes with the same messages.
 */

/** At most this many `tag` filters at once. */
export const MAX_TAG_FILTERS = 10;

/** Raw values, named as the query parameters; an empty string means "no filter". */
export interface UsageFilterInput {
  start?: string;
  end?: string;
  model?: string;
  ingest_token_id?: number;
  provider?: string;
  user?: string;
  /** key:value, split at the first colon; several must all match. */
  tag?: string | readonly string[];
}

/** Throws AppError invalid_request naming the first bad value. */
export function parseUsageFilter(input: UsageFilterInput): UsageFilter {
  const filter: UsageFilter = {};
  if (input.start !== undefined && input.start !== '') {
    const parsed = parseIsoTime(input.start);
    if (!parsed)
      throw new AppError(
        'invalid_request',
        `Invalid start date format: ${input.start}. Use YYYY-MM-DD or ISO-8601.`,
      );
    filter.startMs = parsed.ms;
  }
  if (input.end !== undefined && input.end !== '') {
    const parsed = parseIsoTime(input.end);
    if (!parsed)
      throw new AppError(
        'invalid_request',
        `Invalid end date format: ${input.end}. Use YYYY-MM-DD or ISO-8601.`,
      );
    filter.endMs = parsed.dateOnly ? parsed.ms + MS_PER_DAY - 1 : parsed.ms;
  }
  if (filter.startMs !== undefined && filter.endMs !== undefined && filter.startMs > filter.endMs) {
    throw new AppError('invalid_request', 'Start date cannot be after end date.');
  }
  if (input.model !== undefined && input.model !== '') filter.model = input.model;
  if (input.ingest_token_id !== undefined) filter.ingestTokenId = input.ingest_token_id;
  if (input.provider !== undefined && input.provider !== '') filter.provider = input.provider.toLowerCase();
  if (input.user !== undefined && input.user.trim() !== '') filter.user = input.user.trim();
  const tags = parseTagFilters(input.tag);
  if (tags.length > 0) filter.tags = tags;
  return filter;
}

function parseTagFilters(tag: string | readonly string[] | undefined): TagFilter[] {
  if (tag === undefined) return [];
  const items = typeof tag === 'string' ? [tag] : tag;
  if (items.length > MAX_TAG_FILTERS)
    throw new AppError(
      'invalid_request',
      `at most ${MAX_TAG_FILTERS} tag filters at once (got ${items.length})`,
    );
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
