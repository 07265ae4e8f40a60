import { afterEach, expect, test } from 'vitest';
import { Metrics } from '../src/metrics/metrics.js';
import { MAX_MODEL_LABELS } from '../src/metrics/prometheus.js';
import { ADMIN_KEY, createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

const METRICS_TOKEN = 'scraper-token-0123456789abcdef';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (enough of the format for our own output). */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] && type[2]) types.set(type[1], type[2]);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match?.[1] || match[3] === undefined) throw new Error(`unparseable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1] ?? ''] = pair[2] ?? '';
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([key, v]) => s.labels[key] === v),
  )?.value;
}

let ctx: TestContext;
afterEach(async () => {
  await ctx.close();
});

async function scrape(headers: Record<string, string> = { 'x-api-key': ADMIN_KEY }) {
  const response = await ctx.app.inject({ method: 'GET', url: '/metrics/prometheus', headers });
  return response;
}

test('the Prometheus page shows the same ingest counters as GET /metrics, plus latency histograms', async () => {
  ctx = await createTestApp({ INGEST_BURST: '3', INGEST_RPM: '1' });
  const token = await ctx.createToken('prod');
  const record = {
    tracking_token: token.token,
    model: 'gpt-4o-mini',
    prompt_tokens: 1000,
    completion_tokens: 500,
  };
  expect((await ctx.ingest({ ...record, event_id: 'a' })).statusCode).toBe(201);
  expect((await ctx.ingest({ ...record, event_id: 'a' })).statusCode).toBe(200);
  expect((await ctx.ingest({ ...record, tracking_token: 'nope' })).statusCode).toBe(404);
  expect((await ctx.ingest(record, { 'x-ingest-key': 'wrong' })).statusCode).toBe(401);
  expect((await ctx.ingest({ ...record, prompt_tokens: -1 })).statusCode).toBe(400);
  expect((await ctx.ingest(record)).statusCode).toBe(201);
  expect((await ctx.ingest(record)).statusCode).toBe(429);

  const response = await scrape();
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const { samples } = parseExposition(response.body);
  const json = (await ctx.admin('GET', '/metrics')).json();

  for (const outcome of [
    'success',
    'duplicate',
    'bad_auth',
    'validation_error',
    'unknown_token',
    'rate_limited',
  ]) {
    expect(value(samples, 'cg_ingest_records_total', { outcome }), outcome).toBe(
      json.counters[`ingest_${outcome}`],
    );
  }
  expect(value(samples, 'cg_ingest_records_total', { outcome: 'success' })).toBe(2);
  expect(value(samples, 'cg_rate_limit_hits_total', { limiter: 'ingest' })).toBe(1);
  expect(json.counters.rate_limit_hits).toBe(1);

  const ingestCount = value(samples, 'cg_http_request_duration_seconds_count', {
    route: '/ingest',
    method: 'POST',
  });
  expect(ingestCount).toBe(7);
  expect(json.counters.latency['/ingest'].count).toBe(7);
  expect(value(samples, 'cg_http_requests_total', { route: '/ingest', method: 'POST', status: '201' })).toBe(
    2,
  );
  expect(
    value(samples, 'cg_http_request_duration_seconds_bucket', {
      route: '/ingest',
      method: 'POST',
      le: '+Inf',
    }),
  ).toBe(7);
});

test('spend, LLM tokens and database timings are exported by model and tracking token', async () => {
  ctx = await createTestApp();
  const token = await ctx.createToken('prod');
  await ctx.ingest({
    tracking_token: token.token,
    model: 'gpt-4o-mini',
    prompt_tokens: 1000,
    completion_tokens: 500,
  });
  await ctx.ingest({
    tracking_token: token.token,
    model: 'gpt-4o-mini',
    prompt_tokens: 1000,
    completion_tokens: 500,
  });
  await ctx.ingest({
    tracking_token: token.token,
    model: 'my-own-model',
    prompt_tokens: 10,
    completion_tokens: 5,
  });
  await ctx.admin('GET', '/data');

  const { samples } = parseExposition((await scrape()).body);
  expect(value(samples, 'cg_spend_usd_total', { model: 'gpt-4o-mini' })).toBeCloseTo(0.0009, 12);
  expect(value(samples, 'cg_tracking_token_spend_usd_total', { token_id: String(token.id) })).toBeCloseTo(
    0.0009,
    12,
  );
  expect(value(samples, 'cg_unpriced_records_total', { model: 'my-own-model' })).toBe(1);
  expect(value(samples, 'cg_llm_tokens_total', { model: 'gpt-4o-mini', kind: 'prompt' })).toBe(2000);
  expect(value(samples, 'cg_llm_tokens_total', { model: 'gpt-4o-mini', kind: 'completion' })).toBe(1000);
  expect(value(samples, 'cg_usage_rows')).toBe(3);
  expect(value(samples, 'cg_active_tracking_tokens')).toBe(1);
  expect(value(samples, 'cg_db_commit_records_sum')).toBeGreaterThanOrEqual(3);
  expect(value(samples, 'cg_db_commit_duration_seconds_count')).toBeGreaterThanOrEqual(1);
  expect(value(samples, 'cg_db_sync_duration_seconds_count')).toBeGreaterThanOrEqual(1);
  expect(value(samples, 'cg_db_read_duration_seconds_count', { operation: 'listUsage' })).toBe(1);
  expect(value(samples, 'cg_write_queue_depth')).toBe(0);
});

test('batch sizes are a histogram and model labels stop growing at the bound', async () => {
  ctx = await createTestApp();
  const token = await ctx.createToken('prod');
  const records = Array.from({ length: MAX_MODEL_LABELS + 10 }, (_, i) => ({
    tracking_token: token.token,
    model: `unlisted-model-${i}`,
    prompt_tokens: 1,
    completion_tokens: 1,
  }));
  const batch = await ctx.app.inject({
    method: 'POST',
    url: '/ingest/batch',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: { records },
  });
  expect(batch.json().created).toBe(records.length);

  const { samples } = parseExposition((await scrape()).body);
  expect(value(samples, 'cg_ingest_batch_records_count')).toBe(1);
  expect(value(samples, 'cg_ingest_batch_records_sum')).toBe(records.length);
  const unpriced = samples.filter((s) => s.name === 'cg_unpriced_records_total');
  expect(unpriced).toHaveLength(MAX_MODEL_LABELS + 1);
  expect(value(samples, 'cg_unpriced_records_total', { model: 'other' })).toBe(10);
});

test('every series is named cg_*, and every counter ends in _total, process metrics included', async () => {
  ctx = await createTestApp();
  const { types } = parseExposition((await scrape()).body);
  expect(types.size).toBeGreaterThan(10);
  const server = new Metrics({ processMetrics: true });
  const withProcess = parseExposition(
    await server.prometheus.render({ usageRows: 0, activeTrackingTokens: 0, lastUsageAt: null }),
  ).types;
  expect(withProcess.has('cg_process_cpu_seconds_total')).toBe(true);
  for (const [name, type] of [...types, ...withProcess]) {
    expect(name).toMatch(/^cg_/);
    if (type === 'counter') expect(name).toMatch(/_total$/);
  }
});

test('the Prometheus page needs the admin key unless METRICS_TOKEN is set, and the token opens nothing else', async () => {
  ctx = await createTestApp();
  expect((await scrape({})).statusCode).toBe(401);
  expect((await scrape({ authorization: `Bearer ${METRICS_TOKEN}` })).statusCode).toBe(401);
  await ctx.close();

  ctx = await createTestApp({ METRICS_TOKEN });
  expect((await scrape({ authorization: `Bearer ${METRICS_TOKEN}` })).statusCode).toBe(200);
  expect((await scrape({ 'x-api-key': ADMIN_KEY })).statusCode).toBe(200);
  expect((await scrape({ authorization: 'Bearer wrong-token-0123456789' })).statusCode).toBe(401);
  const other = await ctx.app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  expect(other.statusCode).toBe(401);
});

test('two apps in one process keep separate Prometheus registries', async () => {
  ctx = await createTestApp();
  const second = await createTestApp();
  try {
    const token = await second.createToken('only-here');
    await second.ingest({
      tracking_token: token.token,
      model: 'gpt-4o',
      prompt_tokens: 1,
      completion_tokens: 1,
    });
    const first = parseExposition((await scrape()).body).samples;
    expect(value(first, 'cg_ingest_records_total', { outcome: 'success' })).toBe(0);
    const mine = await second.app.inject({
      method: 'GET',
      url: '/metrics/prometheus',
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(value(parseExposition(mine.body).samples, 'cg_ingest_records_total', { outcome: 'success' })).toBe(
      1,
    );
  } finally {
    await second.close();
  }
});
