import { expect, test } from 'vitest';
import { judgeAnswer } from './fuzz/campaign.js';
import { parseRouteTree } from './fuzz/routes.js';
import type { WireRequest, WireResponse } from './fuzz/target.js';

/** The fuzz harness's own checks, on answers made up here: a harness that misses a defect is silent. */

const TREE = `├── /docs (GET, HEAD)
│   └── / (GET, HEAD)
│       ├── * (HEAD, GET)
│       └── json (GET, HEAD)
├── /ingest (POST)
│   └── /tokens (GET, HEAD, POST)
│       └── /:id (DELETE)
│           └── /active (PATCH)
└── * (OPTIONS)
`;

test("Fastify's printRoutes tree flattens to one entry per method and full URL", () => {
  expect(parseRouteTree(TREE)).toEqual([
    { method: 'GET', url: '/docs' },
    { method: 'HEAD', url: '/docs' },
    { method: 'GET', url: '/docs/' },
    { method: 'HEAD', url: '/docs/' },
    { method: 'HEAD', url: '/docs/*' },
    { method: 'GET', url: '/docs/*' },
    { method: 'GET', url: '/docs/json' },
    { method: 'HEAD', url: '/docs/json' },
    { method: 'POST', url: '/ingest' },
    { method: 'GET', url: '/ingest/tokens' },
    { method: 'HEAD', url: '/ingest/tokens' },
    { method: 'POST', url: '/ingest/tokens' },
    { method: 'DELETE', url: '/ingest/tokens/:id' },
    { method: 'PATCH', url: '/ingest/tokens/:id/active' },
    { method: 'OPTIONS', url: '*' },
  ]);
});

const wire = (method = 'POST', path = '/ingest'): WireRequest => ({ method, path, headers: {} });
function answer(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Extract<WireResponse, { answered: true }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { answered: true, status, headers: { 'x-request-id': 'r1', ...headers }, body: Buffer.from(text) };
}
const errorBody = (code: string) => ({ status: 'error', code, message: 'm', requestId: 'r1' });

test('answers in the error shape, 2xx and documented 503s pass', () => {
  expect(judgeAnswer('POST /ingest', wire(), answer(201, { ok: true }))).toBeUndefined();
  expect(judgeAnswer('POST /ingest', wire(), answer(400, errorBody('invalid_request')))).toBeUndefined();
  expect(judgeAnswer('POST /ingest', wire(), answer(429, errorBody('rate_limited')))).toBeUndefined();
  expect(
    judgeAnswer('POST /ingest', wire(), answer(503, errorBody('unavailable'), { 'retry-after': '1' })),
  ).toBeUndefined();
  expect(
    judgeAnswer('GET /health', wire('GET', '/health'), answer(503, { status: 'unhealthy', checks: {} })),
  ).toBeUndefined();
  expect(judgeAnswer('HEAD /data', wire('HEAD', '/data'), answer(401, ''))).toBeUndefined();
});

test('a 500, a 503 without Retry-After, and errors outside the shape are each a finding', () => {
  const internal = judgeAnswer('POST /ingest', wire(), answer(500, errorBody('internal')), 'RangeError: x');
  expect(internal).toEqual({
    problem: 'HTTP 500 internal (RangeError: x)',
    signature: 'POST /ingest → 500 internal RangeError: x',
  });
  expect(judgeAnswer('POST /ingest', wire(), answer(503, errorBody('unavailable')))?.problem).toMatch(
    /503 unavailable without Retry-After/,
  );
  expect(
    judgeAnswer('OPTIONS *', wire('OPTIONS'), answer(400, 'Invalid Preflight Request'))?.problem,
  ).toMatch(/not JSON/);
  const fastifyBody = { error: 'Bad Request', message: 'Client Error', statusCode: 400 };
  expect(judgeAnswer('GET /data', wire('GET'), answer(400, fastifyBody))?.problem).toMatch(
    /not the error shape/,
  );
  expect(judgeAnswer('GET /data', wire('GET'), answer(404, errorBody('invalid_request')))?.problem).toMatch(
    /code invalid_request with HTTP 404/,
  );
  expect(
    judgeAnswer(
      'GET /data',
      wire('GET'),
      answer(400, errorBody('invalid_request'), { 'x-request-id': 'other' }),
    )?.problem,
  ).toMatch(/requestId r1 is not the X-Request-Id header/);
});
