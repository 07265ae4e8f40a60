import { createGunzip } from 'node:zlib';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { loadOtlpProtobuf } from '../otlp/otlp-protobuf.js';
import { collectUsage, createOtlpService } from '../otlp/otlp-service.js';
import { readTraceExport } from '../otlp/read-trace-export.js';
import type { HttpDeps } from './deps.js';
import { EXAMPLES, withExamples } from './request-examples.js';
import { responses } from './schemas.js';

const PROTOBUF_TYPES = ['application/x-protobuf', 'application/protobuf'];

const PartialSuccess = Type.Object({
  rejectedSpans: Type.String({ description: 'int64 as a decimal string (OTLP/JSON).' }),
  errorMessage: Type.String(),
});

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() || undefined;
}

/**
 * POST /v1/traces: OTLP/HTTP trace export, protobuf (application/x-protobuf) or JSON
 * (application/json), optionally gzip-compressed (Content-Encoding: gzip). The answer is an
 * ExportTraceServiceResponse in the request's encoding, with partial_success set when GenAI spans
 * were rejected. Errors keep the service's one error body (docs/otlp.md says why).
 *
 * The protobuf parser and the gzip step are registered inside this plugin, so no other route
 * accepts protobuf or compressed bodies.
 */
export function otlpRoutes(deps: HttpDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    const protobuf = loadOtlpProtobuf();
    const otlp = createOtlpService({
      ingest: deps.ingest,
      ingestRatePerMinute: deps.config.ingestRateLimit.ratePerMinute,
    });

    const decode = (body: Buffer): unknown => {
      try {
        return protobuf.decodeRequest(body);
      } catch {
        throw new AppError('invalid_request', 'Body is not an OTLP ExportTraceServiceRequest in protobuf');
      }
    };

    app.addContentTypeParser(PROTOBUF_TYPES, { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );

    // BODY_LIMIT_BYTES bounds the decompressed body too: Fastify counts what this stream yields,
    // and receivedEncodedLength keeps its Content-Length check on the compressed bytes.
    app.addHook('preParsing', async (request, _reply, payload) => {
      const encoding = header(request, 'content-encoding')?.toLowerCase();
      if (encoding === undefined || encoding === 'identity') return payload;
      if (encoding !== 'gzip')
        throw new AppError(
          'unsupported_media_type',
          `Content-Encoding must be gzip or absent (got "${encoding}")`,
        );
      const gunzip = Object.assign(createGunzip(), { receivedEncodedLength: 0 });
      payload.on('data', (chunk: Buffer) => {
        gunzip.receivedEncodedLength += chunk.length;
      });
      payload.on('error', (error) => gunzip.destroy(error));
      return payload.pipe(gunzip);
    });

    app.post(
      '/v1/traces',
      {
        config: { auth: 'ingest' },
        // The body is checked as it is read (read-trace-export.ts): a protobuf body is a Buffer
        // that a JSON schema cannot describe, and OTLP/JSON allows fields this schema omits.
        validatorCompiler: () => () => true,
        schema: {
          summary: 'OpenTelemetry traces in (OTLP/HTTP)',
          description:
            'An OTLP ExportTraceServiceRequest, as application/x-protobuf or application/json, optionally gzip. Spans with GenAI semantic-convention token usage become usage records (source "otlp") through the /ingest pipeline; other spans are ignored. Tracking token: the X-Tracking-Token header, or the cost_guardian.tracking_token resource attribute (which wins). Answers an ExportTraceServiceResponse in the request encoding; partialSuccess counts rejected GenAI spans and says why. 429 with Retry-After when the rate limit refused spans: resend the whole export (stored spans are deduplicated). See docs/otlp.md.',
          tags: ['ingest'],
          consumes: ['application/x-protobuf', 'application/json'],
          body: withExamples(
            Type.Object(
              { resourceSpans: Type.Optional(Type.Array(Type.Unknown())) },
              {
                description: 'ExportTraceServiceRequest (OTLP/JSON shown; protobuf takes the same message).',
              },
            ),
            EXAMPLES.otlpTraces,
          ),
          response: responses({
            200: Type.Object(
              { partialSuccess: Type.Optional(PartialSuccess) },
              { description: 'ExportTraceServiceResponse (protobuf when the request was protobuf).' },
            ),
          }),
        },
      },
      async (request, reply) => {
        const isProtobuf = Buffer.isBuffer(request.body);
        const collected = collectUsage(
          readTraceExport(isProtobuf ? decode(request.body as Buffer) : request.body),
          header(request, 'x-tracking-token'),
        );
        // The body is read: let it go before the write is awaited (see collectUsage).
        (request as { body: unknown }).body = null;
        const result = await otlp.export(collected);
        if (result.retryAfterMs !== null) {
          throw new AppError(
            'rate_limited',
            `Ingest rate limit exceeded: ${result.errorMessage}; resend the export after Retry-After seconds (spans already stored are deduplicated)`,
            { 'retry-after': String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))) },
          );
        }
        const partialSuccess =
          result.rejectedSpans > 0
            ? { rejectedSpans: result.rejectedSpans, errorMessage: result.errorMessage }
            : null;
        if (isProtobuf)
          return reply.type('application/x-protobuf').send(protobuf.encodeResponse(partialSuccess));
        return reply.send(
          partialSuccess
            ? { partialSuccess: { ...partialSuccess, rejectedSpans: String(partialSuccess.rejectedSpans) } }
            : {},
        );
      },
    );
  };
}
