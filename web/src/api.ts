/**
 * The page's only way to the server. Same-origin requests carry the HttpOnly session cookie; every
 * state-changing request also carries the session's CSRF token (kept in memory, never stored).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called on any 401 from an admin call: the session ended (signed out elsewhere, expired). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * Rate limiting: a 429 is answered by waiting its Retry-After and asking again (a refused request
 * was never handled, so this is safe for every method), at most MAX_RATE_LIMIT_RETRIES times. While
 * any request waits, `rateLimitedUntil()` says until when, so the page can say so instead of
 * showing a failure (or, worse, an empty result).
 */
export const MAX_RATE_LIMIT_RETRIES = 5;
const DEFAULT_RETRY_SECONDS = 5;
let rateLimitedUntilMs = 0;
const rateLimitListeners = new Set<(untilMs: number) => void>();

export function rateLimitedUntil(): number {
  return rateLimitedUntilMs;
}

export function onRateLimited(listener: (untilMs: number) => void): () => void {
  rateLimitListeners.add(listener);
  return () => rateLimitListeners.delete(listener);
}

function waitForRetry(seconds: number, signal: AbortSignal | undefined): Promise<void> {
  const untilMs = Date.now() + seconds * 1000;
  if (untilMs > rateLimitedUntilMs) {
    rateLimitedUntilMs = untilMs;
    for (const listener of rateLimitListeners) listener(untilMs);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, seconds * 1000);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export async function api<T>(
  method: Method,
  path: string,
  options: { body?: unknown; signal?: AbortSignal; quiet401?: boolean; retryRateLimited?: boolean } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await request<T>(method, path, options);
    } catch (error) {
      const retry =
        error instanceof ApiError &&
        error.status === 429 &&
        options.retryRateLimited !== false &&
        attempt < MAX_RATE_LIMIT_RETRIES;
      if (!retry) throw error;
      await waitForRetry(error.retryAfterSeconds ?? DEFAULT_RETRY_SECONDS, options.signal);
    }
  }
}

async function request<T>(
  method: Method,
  path: string,
  options: { body?: unknown; signal?: AbortSignal; quiet401?: boolean },
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!response.ok) {
    let code = 'http_error';
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { code?: string; message?: string };
      code = body.code ?? code;
      message = body.message ?? message;
    } catch {
      // Not the JSON error body (a proxy's page, say): keep the status line.
    }
    const retry = Number(response.headers.get('retry-after'));
    if (response.status === 401 && !options.quiet401) onUnauthorized();
    throw new ApiError(response.status, code, message, Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return (await response.json()) as T;
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429 && error.retryAfterSeconds !== null)
      return `${error.message}. Try again in ${error.retryAfterSeconds} s.`;
    if (error.status === 404 && error.code === 'not_found') return `${error.message}.`;
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
