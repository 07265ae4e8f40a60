import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * A local stand-in for OpenAI's and Anthropic's admin APIs, speaking real HTTP with the published
 * response shapes (cited in src/reports/openai-reports.ts and anthropic-reports.ts): daily buckets,
 * group_by[] grouping, pagination by next_page. Like the real APIs it caps the buckets per page
 * (`pageSize`, smaller than what the client asks, so that a few days take several pages), answers
 * every day of the range with a bucket (empty days have no results), and refuses a wrong key with
 * a body that quotes it (as OpenAI's "Incorrect API key provided: sk-..." does).
 *
 * Faults: `rateLimit(n)` answers the next n requests 429 with Retry-After: 1; `failOnce(path, page)`
 * answers that page 500 once; `failAlways(path, page)` until cleared.
 */

const DAY_S = 86_400;

export interface FakeAdminApi {
  url: string;
  /** Results per day (Unix seconds of the day's start), per endpoint path. */
  data: Map<string, Map<number, Record<string, unknown>[]>>;
  requests: { path: string; query: URLSearchParams; headers: IncomingMessage['headers']; status: number }[];
  pageSize: number;
  rateLimit(count: number): void;
  failOnce(path: string, page: number): void;
  failAlways(path: string, page: number | null): void;
  close(): Promise<void>;
}

export const OPENAI_PATHS = {
  completions: '/v1/organization/usage/completions',
  embeddings: '/v1/organization/usage/embeddings',
  costs: '/v1/organization/costs',
};
export const ANTHROPIC_PATHS = {
  messages: '/v1/organizations/usage_report/messages',
  costs: '/v1/organizations/cost_report',
};

export async function startFakeAdminApi(keys: { openai: string; anthropic: string }): Promise<FakeAdminApi> {
  const data = new Map<string, Map<number, Record<string, unknown>[]>>();
  const requests: FakeAdminApi['requests'] = [];
  let rateLimited = 0;
  const failOnce = new Set<string>();
  const failAlways = new Set<string>();

  const api: FakeAdminApi = {
    url: '',
    data,
    requests,
    pageSize: 2,
    rateLimit(count) {
      rateLimited = count;
    },
    failOnce(path, page) {
      failOnce.add(`${path}#${page}`);
    },
    failAlways(path, page) {
      if (page === null) failAlways.clear();
      else failAlways.add(`${path}#${page}`);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const query = url.searchParams;
    const record = (status: number) => requests.push({ path, query, headers: req.headers, status });
    const isOpenAi = path.startsWith('/v1/organization/');
    if (isOpenAi && req.headers.authorization !== `Bearer ${keys.openai}`) {
      record(401);
      return send(res, 401, {
        error: {
          message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7)}.`,
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      });
    }
    if (
      !isOpenAi &&
      (req.headers['x-api-key'] !== keys.anthropic || req.headers['anthropic-version'] !== '2023-06-01')
    ) {
      record(401);
      return send(res, 401, {
        type: 'error',
        error: {
          type: 'authentication_error',
          message: `invalid x-api-key ${String(req.headers['x-api-key'])}`,
        },
      });
    }
    const days = data.get(path);
    if (!days) {
      record(404);
      return send(res, 404, { error: { message: 'not found' } });
    }
    if (rateLimited > 0) {
      rateLimited -= 1;
      record(429);
      return send(res, 429, { error: { message: 'Rate limit reached' } }, { 'retry-after': '1' });
    }
    const startS = isOpenAi
      ? Number(query.get('start_time'))
      : Math.floor(Date.parse(query.get('starting_at') ?? '') / 1000);
    const endS = isOpenAi
      ? Number(query.get('end_time'))
      : Math.floor(Date.parse(query.get('ending_at') ?? '') / 1000);
    const cursor = query.get('page');
    const from = cursor ? Number(Buffer.from(cursor.replace(/^page_/, ''), 'base64').toString()) : startS;
    const pageNumber = cursor ? Math.round((from - startS) / (api.pageSize * DAY_S)) + 1 : 1;
    const key = `${path}#${pageNumber}`;
    if (failAlways.has(key) || failOnce.delete(key)) {
      record(500);
      return send(res, 500, { error: { message: 'internal error' } });
    }
    const limit = Math.min(Number(query.get('limit') ?? 7), api.pageSize);
    const buckets = [];
    let day = from;
    for (; day < endS && buckets.length < limit; day += DAY_S) {
      const results = days.get(day) ?? [];
      buckets.push(
        isOpenAi
          ? { object: 'bucket', start_time: day, end_time: day + DAY_S, results }
          : {
              starting_at: new Date(day * 1000).toISOString().replace('.000Z', 'Z'),
              ending_at: new Date((day + DAY_S) * 1000).toISOString().replace('.000Z', 'Z'),
              results,
            },
      );
    }
    const hasMore = day < endS;
    const next = hasMore ? `${isOpenAi ? '' : 'page_'}${Buffer.from(String(day)).toString('base64')}` : null;
    record(200);
    return send(
      res,
      200,
      isOpenAi
        ? { object: 'page', data: buckets, has_more: hasMore, next_page: next }
        : { data: buckets, has_more: hasMore, next_page: next },
    );
  }

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  api.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  for (const path of [...Object.values(OPENAI_PATHS), ...Object.values(ANTHROPIC_PATHS)])
    data.set(path, new Map());
  return api;
}
