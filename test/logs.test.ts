import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { startServerProcess } from './server-process.js';

const API_KEY = 'admin-key-Zq8vT3kP9wX2mN5r';
const INGEST_KEY = 'ingest-key-Hy4cB7nL1sD6fJ0g';
const METRICS_TOKEN = 'metrics-token-Ue2oR8aV5tK3pW9x';

/** Ways a client may percent-encode a key into a URL (issue 16.9: `?t=admin%2Dkey...` was logged as is). */
const hex = (s: string, lower: boolean) =>
  [...Buffer.from(s)]
    .map((b) => `%${b.toString(16).padStart(2, '0')[lower ? 'toLowerCase' : 'toUpperCase']()}`)
    .join('');
const ENCODINGS: ((key: string) => string)[] = [
  (key) => key.replaceAll('-', '%2D'),
  (key) => hex(key, true),
  (key) => encodeURIComponent(hex(key, false)),
];

test('a real server run logs JSON lines with request ids and never the keys, whatever clients send', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-logs-'));
  const server = await startServerProcess({
    ENV: 'production',
    API_KEY,
    INGEST_KEY,
    METRICS_TOKEN,
    DB_PATH: path.join(dir, 'usage.sqlite'),
    LOG_LEVEL: 'trace',
    REQUEST_LOG_SAMPLE_RATE: '1',
  });
  try {
    const call = (method: string, url: string, headers: Record<string, string> = {}, body?: unknown) =>
      fetch(`${server.baseUrl}${url}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    const admin = { 'x-api-key': API_KEY };
    const ingest = { 'x-ingest-key': INGEST_KEY };

    const created = await call('POST', '/ingest/tokens', admin, { label: 'app' });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    const statuses = [
      (await call('POST', '/ingest', ingest, { tracking_token: token, model: 'gpt-4o', prompt_tokens: 3 }))
        .status,
      (await call('GET', '/data', admin)).status,
      (await call('GET', '/metrics/prometheus', { authorization: `Bearer ${METRICS_TOKEN}` })).status,
      // Failures: each key sent where the other belongs, wrong keys, keys in odd places.
      (await call('GET', '/data', { 'x-api-key': INGEST_KEY })).status,
      (await call('POST', '/ingest', { 'x-ingest-key': API_KEY }, { tracking_token: token, model: 'x' }))
        .status,
      (await call('GET', '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })).status,
      (await call('GET', `/data?start=${API_KEY}`, admin)).status,
      (await call('POST', '/ingest', ingest, { tracking_token: INGEST_KEY, model: 'gpt-4o' })).status,
      (await call('POST', '/ingest', ingest, `{"tracking_token": "${API_KEY}", `)).status,
      (await call('GET', `/nowhere/${METRICS_TOKEN}`, { cookie: `session=${API_KEY}` })).status,
    ];
    expect(statuses).toEqual([201, 200, 200, 401, 401, 401, 400, 404, 400, 404]);
    for (const secret of [API_KEY, INGEST_KEY, METRICS_TOKEN]) {
      for (const encode of ENCODINGS) {
        expect((await call('GET', `/nowhere/${encode(secret)}?t=${encode(secret)}`)).status).toBe(404);
      }
    }
  } finally {
    expect(await server.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }

  const output = server.output();
  const lines = output.trim().split('\n');
  const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const requestLines = records.filter((r) => r.msg === 'request');
  expect(requestLines).toHaveLength(11 + 3 * ENCODINGS.length);
  for (const line of requestLines) expect(line.reqId).toMatch(/^[0-9a-f]{14}$/);
  expect(records.some((r) => r.msg === 'shutdown complete')).toBe(true);
  for (const secret of [API_KEY, INGEST_KEY, METRICS_TOKEN]) {
    expect(output).not.toContain(secret);
    // Not even a recognisable part of it.
    expect(output).not.toContain(secret.slice(-12));
    for (const encode of ENCODINGS) expect(output).not.toContain(encode(secret).slice(-24));
  }
});
