import net from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { ADMIN_KEY, createTestApp, INGEST_KEY, type TestContext } from '../helpers.js';

/**
 * Issue 16.3: 1,500 connections with a valid ingest key, each sending 900 KiB of a 1 MiB body and
 * then stalling, took RSS from 170 MB to 1.4 GB (never released) and /ping to 8 s. These tests use
 * real sockets (node:net) and small limits; bench/slow-bodies.ts replays the attack at full size.
 */

let ctx: TestContext;
let port: number;
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await ctx.close();
});

async function start(env: Record<string, string>): Promise<void> {
  ctx = await createTestApp(env);
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  const address = ctx.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  port = address.port;
}

interface RawExchange {
  socket: net.Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<string>;
}

/** Opens a connection and sends the head of a POST /ingest and then `body` (possibly partial). */
function post(head: Record<string, string>, body: string): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    let received = '';
    const closed = new Promise<string>((resolveClosed) => {
      socket.on('data', (chunk) => {
        received += chunk.toString();
      });
      socket.on('close', () => resolveClosed(received));
    });
    socket.on('error', () => {});
    socket.once('connect', () => {
      const lines = Object.entries({
        host: '127.0.0.1',
        'content-type': 'application/json',
        'x-ingest-key': INGEST_KEY,
        ...head,
      }).map(([name, value]) => `${name}: ${value}`);
      socket.write(`POST /ingest HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`, (error) =>
        error ? reject(error) : resolve({ socket, closed }),
      );
    });
  });
}

function parseResponse(raw: string): { status: number; headers: Record<string, string>; body: unknown } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: body === '' ? undefined : JSON.parse(body),
  };
}

async function bodyBytesInFlight(): Promise<number> {
  const text = (
    await ctx.app.inject({ method: 'GET', url: '/metrics/prometheus', headers: { 'x-api-key': ADMIN_KEY } })
  ).body;
  return Number(/^cg_http_body_bytes_in_flight (\d+)$/m.exec(text)?.[1]);
}

async function ping(): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/ping`)).status;
}

const errorShape = (code: string) => ({
  status: 'error',
  code,
  message: expect.any(String),
  requestId: expect.any(String),
});

test('when stalled bodies hold the budget, a new body is refused with 503 and Retry-After without being read, /ping answers, and the bytes come back when the stalled connections go', async () => {
  await start({
    BODY_LIMIT_BYTES: '65536',
    BODY_BUDGET_BYTES: '131072',
    REQUEST_TIMEOUT_MS: '3600000',
    HEADERS_TIMEOUT_MS: '600000',
  });
  const partial = 'x'.repeat(60_000);
  const stalled = [
    await post({ 'content-length': '65536' }, partial),
    await post({ 'content-length': '65536' }, partial),
  ];
  await expect.poll(bodyBytesInFlight, { timeout: 20_000 }).toBe(120_000);

  // 120,000 held + 65,536 declared > 131,072: refused before a byte of it is read.
  const refused = await post({ 'content-length': '65536' }, '{"tracking_token":');
  const response = parseResponse(await refused.closed);
  expect(response.status).toBe(503);
  expect(response.headers['retry-after']).toBe('1');
  expect(response.body).toEqual(errorShape('unavailable'));
  expect(await ping()).toBe(200);

  // A body without a declared length is counted as it arrives, and cut when it goes past.
  const chunked = await post({ 'transfer-encoding': 'chunked' }, `4e20\r\n${'y'.repeat(20_000)}\r\n`);
  const cut = parseResponse(await chunked.closed);
  expect(cut.status).toBe(503);
  expect(cut.headers['retry-after']).toBe('1');
  expect(cut.body).toEqual(errorShape('unavailable'));

  for (const exchange of stalled) exchange.socket.destroy();
  await expect.poll(bodyBytesInFlight, { timeout: 20_000 }).toBe(0);
  const text = (
    await ctx.app.inject({ method: 'GET', url: '/metrics/prometheus', headers: { 'x-api-key': ADMIN_KEY } })
  ).body;
  expect(text).toMatch(/^cg_http_body_budget_refusals_total 2$/m);

  // With the budget free again, bodies are read as usual.
  const { token } = await ctx.createToken();
  const body = JSON.stringify({ tracking_token: token, model: 'gpt-4o-mini', prompt_tokens: 5 });
  const accepted = await post(
    { 'content-length': String(Buffer.byteLength(body)), connection: 'close' },
    body,
  );
  expect(parseResponse(await accepted.closed).status).toBe(201);
});

test('a body that stalls is cut after REQUEST_TIMEOUT_MS with 408 request_timeout, and its bytes are given back', async () => {
  await start({ REQUEST_TIMEOUT_MS: '300', HEADERS_TIMEOUT_MS: '200' });
  const stalled = await post({ 'content-length': '100000' }, 'x'.repeat(50_000));
  expect(await ping()).toBe(200);
  const response = parseResponse(await stalled.closed);
  expect(response.status).toBe(408);
  expect(response.headers.connection).toBe('close');
  expect(response.body).toEqual(errorShape('request_timeout'));
  await expect.poll(bodyBytesInFlight, { timeout: 20_000 }).toBe(0);
});

test('headers that stall are cut after HEADERS_TIMEOUT_MS with 408', async () => {
  await start({ REQUEST_TIMEOUT_MS: '100000', HEADERS_TIMEOUT_MS: '200' });
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk.toString();
  });
  socket.write('POST /ingest HTTP/1.1\r\nhost: 127.0.0.1\r\n');
  await new Promise((resolve) => socket.once('close', resolve));
  const response = parseResponse(received);
  expect(response.status).toBe(408);
  expect(response.body).toEqual(errorShape('request_timeout'));
});
