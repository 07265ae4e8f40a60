import { Type } from 'typebox';
import { MAX_USER_LENGTH } from '../ingest/record-schema.js';
import { MAX_TAG_FILTERS } from '../usage-filter.js';

/** Filters beyond /data's original four, shared by /data and /usage/* (parsed by usage-filter.ts). */
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
