import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import { jsonTextDeeperThan } from '../../lib/json-depth.js';

/** The deepest JSON body any route accepts; a usage record needs 1 + its fields' 32 (normalise-record.ts). */
export const MAX_BODY_DEPTH = 64;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The body holds items that are checked for depth one by one, so that one item nested too
     * deeply is refused alone (POST /ingest/batch). Such a route skips the body-wide depth check
     * and must never hand its body to anything recursive before that per-item check.
     */
    depthCheckedPerItem?: boolean;
  }
}

/**
 * Fastify's JSON parser (secure-json-parse: iterative, refuses __proto__ and constructor poisoning)
 * behind a depth check of the text, made before parsing and without recursion. JSON.parse itself
 * copes with any depth, but JSON.stringify, schema walkers and the normaliser recurse: a 10 KB body
 * nested 5,000 levels deep overflowed the stack and answered 500 (issue 16.2).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (
      !request.routeOptions.config.depthCheckedPerItem &&
      jsonTextDeeperThan(body as string, MAX_BODY_DEPTH)
    ) {
      done(
        new AppError('invalid_request', `JSON body is nested deeper than ${MAX_BODY_DEPTH} levels`),
        undefined,
      );
      return;
    }
    parseJson(request, body as string, done);
  });
}
