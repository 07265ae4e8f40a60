import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_STATUS, type ErrorCode } from '../errors.js';
import { QueryTimeoutError } from '../storage/store.js';

const CODE_FOR_STATUS: Record<number, ErrorCode> = Object.fromEntries(
  Object.entries(ERROR_STATUS).map(([code, status]) => [status, code as ErrorCode]),
);

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
 */
export function registerErrorHandling(app: FastifyInstance): void {
  const routes: { pattern: RegExp; method: string }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const pattern = new RegExp(
      `^${route.url
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/:[A-Za-z_]+/g, '[^/]+')
        .replace(/\*/g, '.*')}/?$`,
    );
    for (const method of methods) if (method !== 'HEAD') routes.push({ pattern, method });
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.statusCode >= 500) {
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
