import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { decodeCursor, encodeCursor } from '../lib/cursor.js';
import { toApiRow } from '../lib/usage-export.js';
import { parseUsageFilter } from '../usage-filter.js';
import { AttributionFilterQuery } from './analytics-filter.js';
import type { HttpDeps } from './deps.js';
import { responses } from './schemas.js';

export const DEFAULT_PAGE_ROWS = 1000;
export const MAX_PAGE_ROWS = 10_000;

export const UsageFilterQuery = {
  start: Type.Optional(Type.String({ description: 'YYYY-MM-DD (00:00:00 UTC) or ISO-8601; inclusive.' })),
  end: Type.Optional(
    Type.String({ description: 'YYYY-MM-DD (through 23:59:59.999 UTC) or ISO-8601; inclusive.' }),
  ),
  model: Type.Optional(Type.String({ description: 'Exact model name.' })),
  ingest_token_id: Type.Optional(Type.Integer({ minimum: 1, description: 'Tracking token id.' })),
};

export const UsageRowBody = Type.Object({
  id: Type.Integer(),
  timestamp: Type.String({ description: 'When the call happened, ISO-8601 UTC.' }),
  model: Type.String(),
  promptTokens: Type.Integer(),
  completionTokens: Type.Integer(),
  totalTokens: Type.Integer(),
  estimatedCostUSD: Type.Union([Type.Number(), Type.Null()], {
    description: 'null when the model is unpriced.',
  }),
  provider: Type.String(),
  ingestTokenId: Type.Union([Type.Integer(), Type.Null()]),
  tokenLabel: Type.Union([Type.String(), Type.Null()]),
  eventId: Type.Union([Type.String(), Type.Null()]),
  source: Type.String(),
  cachedTokens: Type.Integer(),
  cacheWriteTokens: Type.Integer(),
  cacheWriteExtendedTokens: Type.Integer(),
  reasoningTokens: Type.Integer(),
  inputAudioTokens: Type.Integer(),
  outputAudioTokens: Type.Integer(),
  serviceTier: Type.Union([Type.String(), Type.Null()]),
  batch: Type.Boolean(),
  pricingStatus: Type.String(),
  pricingSource: Type.Union([Type.String(), Type.Null()], {
    description: 'Price layer and version that priced the row, e.g. genai-prices@0.1.8.',
  }),
  clientCostUSD: Type.Union([Type.Number(), Type.Null()]),
  user: Type.Union([Type.String(), Type.Null()], { description: 'End-user id sent with the record.' }),
  tags: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
    description: 'Tags sent with the record.',
  }),
});

export function exportFilename(nowMs: number, extension: string): string {
  const stamp = new Date(nowMs)
    .toISOString()
    .replace(/\.\d{3}Z$/, '')
    .replace('T', '-')
    .replace(/:/g, '');
  return `cost-guardian-${stamp}.${extension}`;
}

/**
 * The response body of an export. The first chunk (which has run the query) is awaited before
 * anything is sent, so an export that cannot start answers with an error status. A failure after
 * that errors the stream, and Fastify then destroys the socket: the chunked body never gets its
 * terminating chunk, so a client sees an aborted response, never a short one that ends cleanly
 * (issue 17; test/export-concurrency.test.ts).
 */
async function exportStream(chunks: AsyncIterable<string>): Promise<Readable> {
  const iterator = chunks[Symbol.asyncIterator]();
  let first: IteratorResult<string> | undefined = await iterator.next();
  const body: AsyncIterableIterator<string> = {
    [Symbol.asyncIterator]() {
      return body;
    },
    next() {
      const pending = first;
      first = undefined;
      return pending ? Promise.resolve(pending) : iterator.next();
    },
    // Readable.from calls this when the client goes away: it closes the export in the read worker.
    async return() {
      return (await iterator.return?.()) ?? { done: true, value: undefined };
    },
  };
  return Readable.from(body, { objectMode: false });
}

export function dataRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/data',
      {
        config: { auth: 'admin' },
        schema: {
          summary: 'Usage rows, newest first, one page at a time (or every row as CSV)',
          tags: ['usage'],
          querystring: Type.Object({
            ...UsageFilterQuery,
            ...AttributionFilterQuery,
            limit: Type.Integer({
              minimum: 1,
              maximum: MAX_PAGE_ROWS,
              default: DEFAULT_PAGE_ROWS,
              description: 'Rows per page.',
            }),
            cursor: Type.Optional(
              Type.String({ maxLength: 200, description: 'next_cursor of the previous page.' }),
            ),
            format: Type.Enum(['json', 'csv', 'jsonl'], {
              default: 'json',
              description: 'csv and jsonl (one /data row per line) stream every matching row: no page limit.',
            }),
          }),
          response: responses({
            200: Type.Object({
              data: Type.Array(UsageRowBody),
              next_cursor: Type.Union([Type.String(), Type.Null()], {
                description: 'null on the last page.',
              }),
            }),
          }),
        },
      },
      async (request, reply) => {
        const filter = parseUsageFilter(request.query);
        const { format } = request.query;
        if (format === 'csv' || format === 'jsonl') {
          const stream = await exportStream(deps.store.exportUsage(filter, format));
          return reply
            .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
            .header(
              'content-disposition',
              `attachment; filename="${exportFilename(deps.clock.now(), format)}"`,
            )
            .send(stream);
        }
        let after: { ts: number; id: number } | undefined;
        if (request.query.cursor !== undefined) {
          const parts = decodeCursor(request.query.cursor, 2);
          if (!parts)
            throw new AppError(
              'invalid_request',
              'cursor is not valid; pass next_cursor from the previous page',
            );
          after = { ts: parts[0] ?? 0, id: parts[1] ?? 0 };
        }
        const page = await deps.store.listUsage(filter, {
          limit: request.query.limit,
          ...(after ? { after } : {}),
        });
        return {
          data: page.rows.map(toApiRow),
          next_cursor: page.next ? encodeCursor([page.next.ts, page.next.id]) : null,
        };
      },
    );
  };
}
