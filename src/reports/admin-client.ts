/**
 * GET requests to a provider's admin API, with the waits its rate limits ask for. The admin key
 * travels in a header only; no message this module makes contains a header or a response body
 * (an error body may quote the key), so an error can be logged and shown as it is.
 */

export interface AdminClientOptions {
  /** e.g. https://api.openai.com/v1; paths are appended to it. */
  baseUrl: string;
  headers: Readonly<Record<string, string>>;
  /** Waits between attempts; injected so that tests never wait on a real timer. */
  sleep: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
  maxAttempts?: number;
  timeoutMs?: number;
}

export class AdminApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

const DEFAULT_ATTEMPTS = 6;
const MAX_WAIT_MS = 60_000;

/** Retry-After in seconds or as an HTTP date; null when absent or unreadable. */
function retryAfterMs(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.ceil(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

export type AdminClient = (path: string, query: URLSearchParams) => Promise<unknown>;

export function createAdminClient(options: AdminClientOptions): AdminClient {
  const doFetch = options.fetch ?? fetch;
  const attempts = options.maxAttempts ?? DEFAULT_ATTEMPTS;
  const base = options.baseUrl.replace(/\/+$/, '');
  return async (path, query) => {
    const url = `${base}${path}?${query.toString()}`;
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      let response: Response;
      try {
        response = await doFetch(url, {
          headers: { accept: 'application/json', ...options.headers },
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        lastProblem = `${path}: ${(error as Error).name === 'TimeoutError' ? 'timed out' : 'connection failed'}`;
        await options.sleep(Math.min(MAX_WAIT_MS, 1000 * 2 ** (attempt - 1)));
        continue;
      }
      if (response.ok) {
        try {
          return await response.json();
        } catch {
          throw new AdminApiError(`${path}: the answer is not JSON`, response.status);
        }
      }
      // Read and drop the body: it is not shown (it may quote the key), but the socket is reused.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status === 401 || response.status === 403)
        throw new AdminApiError(`${path}: the admin key was refused (${response.status})`, response.status);
      if (response.status !== 429 && response.status < 500)
        throw new AdminApiError(`${path}: answered ${response.status}`, response.status);
      lastProblem = `${path}: answered ${response.status}`;
      const asked = retryAfterMs(response.headers.get('retry-after'), Date.now());
      await options.sleep(Math.min(MAX_WAIT_MS, asked ?? 1000 * 2 ** (attempt - 1)));
    }
    throw new AdminApiError(`${lastProblem} (gave up after ${attempts} attempts)`, null);
  };
}
