import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_STATUS, type ErrorCode } from '../errors.js';
import { QueryTimeoutError, StoreFullError, StoreLockedError } from '../storage/store.js';

/** Retry-After, in seconds, for writes refused because another process holds the write lock. */
export const LOCKED_RETRY_AFTER_S = 1;
/** Retry-After, in seconds, for writes refused because the disk is full. */
export const STORAGE_FULL_RETRY_AFTER_S = 10;

/** The first code of the table for each status (503 is `unavailable`, not `storage_full`). */
const CODE_FOR_STATUS: Record<number, ErrorCode> = {};
for (const [code, status] of Object.entries(ERROR_STATUS)) CODE_FOR_STATUS[status] ??= code as ErrorCode;

/** Fastify's own 4xx errors, re-worded for clients. */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Content-Type must be application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'JSON body required',
  FST_ERR_CTP_INVALID_JSON_BODY: 'Request body is not valid JSON',
  FST_ERR_BAD_URL: 'The path is not valid percent-encoding',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter is longer than 100 characters',
};

export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.status(error.statusCode).send({
    status: 'error',
    code: error.code,
    message: error.message,
    requestId: request.id,
  });
}

/** Any thrown value to the AppError a client sees. 5xx never carry internals. */
export function toAppError(error: FastifyError | Error): AppError {
  if (error instanceof AppError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return new AppError('invalid_request', error.message);
  }
  if (error instanceof SyntaxError) return new AppError('invalid_request', 'Request body is not valid JSON');
  // A read on the writer connection that met a lock (rare in WAL mode: another process recovering
  // the WAL) fails at once rather than wait on the event loop; it is as retryable as a write.
  const sqliteCode = (error as { code?: unknown }).code;
  if (
    error instanceof StoreLockedError ||
    (typeof sqliteCode === 'string' && sqliteCode.startsWith('SQLITE_BUSY'))
  ) {
    return new AppError(
      'unavailable',
      'The database is locked by another process; nothing was stored. Retry shortly.',
      { 'retry-after': String(LOCKED_RETRY_AFTER_S) },
    );
  }
  if (error instanceof StoreFullError) {
    return new AppError(
      'storage_full',
      'The disk holding the database is full; nothing was stored. Retry later: writes resume once space is freed.',
      { 'retry-after': String(STORAGE_FULL_RETRY_AFTER_S) },
    );
  }
  if (error instanceof QueryTimeoutError) {
    return new AppError(
      'unavailable',
      `This question cannot be answered from the rollups, and reading the usage rows for it took longer than ${Math.round(error.timeoutMs / 1000)} s; narrow the time range or the filters.`,
    );
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = CODE_FOR_STATUS[status] ?? 'invalid_request';
    const message = FASTIFY_MESSAGES[fastifyError.code] ?? error.message;
    return new AppError(code, message);
  }
  return new AppError(
    status === 503 ? 'unavailable' : 'internal',
    status === 503 ? 'service unavailable' : 'internal error',
  );
}

/**
 * Fastify's `frameworkErrors`: what the router refuses before any route runs (a path that is not
 * valid percent-encoding, a path parameter over maxParamLength) gets the one error shape too, not
 * Fastify's own body (it answered 414 `FST_ERR_MAX_PARAM_LENGTH`; found by the fuzz harness).
 */
export function sendFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // No route, so no onSend hook: the request id header is set here.
  reply.header('x-request-id', request.id);
  sendError(request, reply, toAppError(error));
}

/**
 * The one error handler and the not-found handler. A path that exists under another method answers
 * 405 with an Allow header; anything else answers 404. Both use the error body.
 *
 * Paths match as the router matches them: exactly, so `/reset/` is another path than `/reset` and
 * answers 404 for every method. OPTIONS routes do not count: with ALLOWED_ORIGINS set, @fastify/cors
 * adds `OPTIONS *` for preflights, which would otherwise make every unknown path a 405.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  const routes: { pattern: RegExp; method: string }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const pattern = new RegExp(
      `^${route.url
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/:[A-Za-z_]+/g, '[^/]+')
        .replace(/\*/g, '.*')}$`,
    );
    for (const method of methods) {
      if (method !== 'HEAD' && method !== 'OPTIONS') routes.push({ pattern, method });
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    // Shedding is not a failure: a locked or full database is logged once per episode (app.ts),
    // a refusal under load (the body budget) by the access log line; neither once per request
    // with a stack, which under attack would be the costliest thing the server does.
    const isShed =
      error instanceof StoreLockedError ||
      error instanceof StoreFullError ||
      (error instanceof AppError && error.code === 'unavailable');
    if (appError.statusCode >= 500 && !isShed) {
      request.log.error({ err: error, reqId: request.id }, 'request failed');
    }
    return sendError(request, reply, appError);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    // A route that answers not-found itself (a missing static file) is a 404, not a 405.
    if (allowed.length > 0 && !allowed.includes(request.method) && request.method !== 'OPTIONS') {
      return sendError(
        request,
        reply,
        new AppError('method_not_allowed', `Method ${request.method} is not allowed on ${path}`, {
          allow: allowed.join(', '),
        }),
      );
    }
    return sendError(request, reply, new AppError('not_found', `No route for ${request.method} ${path}`));
  });
}

/**
 * Fastify's `clientErrorHandler`: errors Node's HTTP server raises on a socket before (or instead
 * of) a request reaching Fastify. A request that took longer than HEADERS_TIMEOUT_MS /
 * REQUEST_TIMEOUT_MS to arrive is answered 408 `request_timeout`, anything malformed 400, in the
 * one error shape (with a fresh request id: the request, if any, never reached a handler), and
 * the connection is closed.
 */
export function createClientErrorHandler(nextRequestId: () => string) {
  return function clientErrorHandler(
    this: FastifyInstance,
    error: Error & { code?: string },
    socket: Socket,
  ): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const appError =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AppError(
            'request_timeout',
            'The request was not received in time; the connection is closed. Send the whole request promptly.',
          )
        : new AppError(
            'invalid_request',
            error.code === 'HPE_HEADER_OVERFLOW' ? 'Request headers are too large' : 'Malformed HTTP request',
          );
    const requestId = nextRequestId();
    this.log.debug({ err: error, reqId: requestId }, 'client error');
    const body = JSON.stringify({
      status: 'error',
      code: appError.code,
      message: appError.message,
      requestId,
    });
    // A response already under way on this socket cannot be followed by another one.
    const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !response?.headersSent) {
      const status = appError.statusCode;
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}
