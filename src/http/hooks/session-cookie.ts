import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Dashboard session ids. The cookie carries 256 random bits; the database keeps only their
 * SHA-256, and the CSRF token is derived from the id with a different prefix, so neither the
 * database nor the page's JavaScript (which sees the CSRF token, never the HttpOnly cookie) can
 * produce the other.
 */
export const SESSION_COOKIE = 'cg_session';
export const REMEMBERED_SESSION_MS = 30 * 24 * 60 * 60 * 1000;
/** A browser-session cookie dies with the browser; the server still ends it after this. */
export const BROWSER_SESSION_MS = 12 * 60 * 60 * 1000;

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSessionId(sessionId: string): string {
  return createHash('sha256').update(`session:${sessionId}`).digest('hex');
}

export function csrfTokenFor(sessionId: string): string {
  return createHash('sha256').update(`csrf:${sessionId}`).digest('base64url');
}

/** Methods that change nothing: cookie requests with them need no CSRF token. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** Whether `candidate` is this session's CSRF token, compared in constant time. */
export function csrfTokenMatches(candidate: string | string[] | undefined, sessionId: string): boolean {
  if (typeof candidate !== 'string') return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(candidate), digest(csrfTokenFor(sessionId)));
}
