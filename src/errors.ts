/**
 * The one error type of the service. Every failure a client can see is an AppError with a code
 * from ERROR_STATUS; the error handler turns it into
 * `{"status":"error","code","message","requestId"}` with the status from this table.
 * docs/errors.md lists every code (a test keeps the two in step).
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  storage_full: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Extra response headers (Retry-After on 429 and 503, Allow on 405). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ERROR_STATUS[code];
    this.headers = headers;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
