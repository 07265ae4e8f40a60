import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type App, buildApp } from '../src/app.js';
import { verifyWebhook } from '../src/budgets/webhook-signature.js';
import { testConfig } from '../src/config.js';
import { createManualClock } from '../src/lib/clock.js';
import { Metrics } from '../src/metrics/metrics.js';
import { startServer } from '../src/server.js';
import { createSqliteStore, type SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import { ADMIN_KEY, INGEST_KEY } from './helpers.js';
import { usage } from './usage-fixture.js';
import { type ReceivedRequest, startReceiver, type WebhookReceiver } from './webhook-receiver.js';

/**
 * Alerts end to end: the real app on a real SQLite file, a real HTTP receiver, the injected clock.
 * The alert monitor's timer is not started: each test runs its passes (runOnce) after moving time.
 */

const NOW = Date.UTC(2026, 10, 20, 12);

interface Running {
  app: App;
  store: SqliteStore;
}

let dir: string;
let dbPath: string;
let clock: ReturnType<typeof createManualClock>;
let running: Running;
let receiver: WebhookReceiver;
let trackingToken: string;
let tokenId: number;

async function open(): Promise<Running> {
  const config = testConfig({
    API_KEY: ADMIN_KEY,
    INGEST_KEY,
    DB_PATH: dbPath,
    RATE_LIMIT_RPM: '100000',
    PUBLIC_URL: 'https://costs.example.com',
  });
  const store = createSqliteStore(dbPath);
  const app = await buildApp({ config, store, clock });
  await app.ready();
  return { app, store };
}

async function close(): Promise<void> {
  await running.app.close();
  await running.store.close();
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-alerts-'));
  dbPath = path.join(dir, 'usage.sqlite');
  clock = createManualClock(NOW);
  running = await open();
  receiver = await startReceiver();
  const created = await admin('POST', '/ingest/tokens', { label: 'prod' });
  ({ token: trackingToken, id: tokenId } = created.json());
});
afterEach(async () => {
  await close();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

function admin(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
  return running.app.inject({
    method,
    url,
    headers: { 'x-api-key': ADMIN_KEY },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

/** One record of gpt-4o-mini, 1000 in / 500 out: $0.00045. */
function ingest(extra: Record<string, unknown> = {}) {
  return running.app.inject({
    method: 'POST',
    url: '/ingest',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: {
      tracking_token: trackingToken,
      model: 'gpt-4o-mini',
      prompt_tokens: 1000,
      completion_tokens: 500,
      ...extra,
    },
  });
}

async function channel(kind: 'webhook' | 'slack', extra: Record<string, unknown> = {}) {
  const response = await admin('POST', '/budgets/channels', {
    name: kind,
    kind,
    url: receiver.url,
    ...extra,
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

async function budget(body: Record<string, unknown>) {
  const response = await admin('POST', '/budgets', { window: { kind: 'month' }, ...body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

const runOnce = () => running.app.deps.alerts.runOnce();
const bodies = () => receiver.received.map((request) => JSON.parse(request.body));

describe('threshold alerts to a signed webhook', () => {
  test('each threshold is delivered once, signed with HMAC-SHA256 over the timestamp and the raw body', async () => {
    const hook = await channel('webhook');
    expect(hook.secret).toMatch(/^whsec_/);
    const created = await budget({ name: 'Prod', limit_usd: 0.001 });
    await ingest();
    await ingest();
    await runOnce();
    expect(bodies().map((b) => b.threshold_percent)).toEqual([50, 80]);
    const [first] = receiver.received;
    if (!first) throw new Error('nothing received');
    const timestamp = String(Math.floor(NOW / 1000));
    expect(first.headers['x-costguardian-timestamp']).toBe(timestamp);
    // Recomputed here with node:crypto, as a receiver would.
    const expected = createHmac('sha256', hook.secret).update(`${timestamp}.${first.body}`).digest('hex');
    expect(first.headers['x-costguardian-signature']).toBe(`v1=${expected}`);
    expect(verifyWebhook(hook.secret, `v1=${expected}`, timestamp, first.body, NOW / 1000)).toBe(true);
    expect(verifyWebhook(hook.secret, `v1=${expected}`, timestamp, `${first.body} `, NOW / 1000)).toBe(false);
    expect(verifyWebhook(hook.secret, `v1=${expected}`, timestamp, first.body, NOW / 1000 + 301)).toBe(false);
    expect(first.headers['content-type']).toBe('application/json');
    // Both thresholds were crossed by the second record: each alert has the spend of that moment.
    expect(JSON.parse(first.body)).toMatchObject({
      type: 'threshold',
      threshold_percent: 50,
      spent_usd: 0.0009,
      unpriced_requests: 0,
      dashboard_url: `https://costs.example.com/dashboard?view=budgets&budget=${created.id}`,
      budget: { id: created.id, name: 'Prod', limit_usd: 0.001, window_end: '2026-12-01T00:00:00Z' },
      forecast: { at: '2026-12-01T00:00:00Z' },
    });
    expect(JSON.parse(first.body).text).toContain('Budget "Prod" reached 50% of its limit');

    await runOnce();
    await ingest();
    await runOnce();
    expect(bodies().map((b) => b.threshold_percent)).toEqual([50, 80, 100]);
    const log = (await admin('GET', '/budgets/deliveries')).json().deliveries;
    expect(log.map((d: { status: string; attempts: number }) => [d.status, d.attempts])).toEqual([
      ['delivered', 1],
      ['delivered', 1],
      ['delivered', 1],
    ]);
    expect(log[0]).toMatchObject({
      alert: { kind: 'threshold', budget_id: created.id },
      channel: { id: hook.id, kind: 'webhook' },
    });
  });

  test('200 parallel requests that cross 80 % together give one alert, and each sees its own spend', async () => {
    await channel('webhook');
    await budget({ name: 'Shared', limit_usd: 0.1, thresholds: [80] });
    // 170 records: 76.5 %.
    const records = Array.from({ length: 170 }, (_, i) => ({
      tracking_token: trackingToken,
      model: 'gpt-4o-mini',
      prompt_tokens: 1000,
      completion_tokens: 500,
      event_id: `pre-${i}`,
    }));
    await running.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: { records },
    });
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => ingest({ event_id: `burst-${i}` })),
    );
    const spent = responses.map((r) => r.json().budgets[0].spent_usd).sort((a, b) => a - b);
    expect(spent).toEqual(Array.from({ length: 200 }, (_, i) => ((171 + i) * 450_000) / 1e9));
    const warned = responses.filter((r) => r.json().budgets[0].verdict === 'warn').length;
    // 178 records reach 80 % ($0.0801), 223 reach the limit ($0.10035): 178..222 warn.
    expect(warned).toBe(222 - 178 + 1);
    await runOnce();
    await runOnce();
    const alerts = (await admin('GET', '/budgets/alerts')).json().alerts;
    expect(alerts).toHaveLength(1);
    expect(bodies()).toHaveLength(1);
    expect(bodies()[0]).toMatchObject({ threshold_percent: 80 });
  });
});

describe('delivery', () => {
  test('a 500 is retried after the backoff, on the injected clock, and then delivered', async () => {
    receiver.script([500]);
    await channel('webhook');
    await budget({ name: 'Retry', limit_usd: 0.0005, thresholds: [50] });
    await ingest();
    await runOnce();
    expect(receiver.received).toHaveLength(1);
    let [delivery] = (await admin('GET', '/budgets/deliveries')).json().deliveries;
    expect(delivery).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_status_code: 500,
      last_error: 'HTTP 500',
      next_attempt_at: new Date(NOW + 30_000).toISOString().replace('.000', ''),
    });
    clock.advance(29_999);
    await runOnce();
    expect(receiver.received).toHaveLength(1);
    clock.advance(1);
    await runOnce();
    expect(receiver.received).toHaveLength(2);
    [delivery] = (await admin('GET', '/budgets/deliveries')).json().deliveries;
    expect(delivery).toMatchObject({
      status: 'delivered',
      attempts: 2,
      last_status_code: 200,
      next_attempt_at: null,
    });
    // The same alert both times (receivers deduplicate on the delivery id).
    expect(receiver.received.map((r) => r.headers['x-costguardian-delivery'])).toEqual([
      String(delivery.id),
      String(delivery.id),
    ]);
  });

  test('backoff doubles from 30 s up to an hour, and a delivery fails for good after ten attempts', async () => {
    receiver.script(Array(20).fill(503));
    await channel('webhook');
    await budget({ name: 'Down', limit_usd: 0.0005, thresholds: [50] });
    await ingest();
    const waits: number[] = [];
    for (let attempt = 0; attempt < 10; attempt += 1) {
      await runOnce();
      const [delivery] = (await admin('GET', '/budgets/deliveries')).json().deliveries;
      if (delivery.next_attempt_at) {
        waits.push(Date.parse(delivery.next_attempt_at) - clock.now());
        clock.set(Date.parse(delivery.next_attempt_at));
      }
    }
    expect(waits).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600, 3600].map((s) => s * 1000));
    const [delivery] = (await admin('GET', '/budgets/deliveries')).json().deliveries;
    expect(delivery).toMatchObject({ status: 'failed', attempts: 10, next_attempt_at: null });
    clock.advance(86_400_000);
    await runOnce();
    expect(receiver.received).toHaveLength(10);
  });

  test('no duplicate after a restart: delivered alerts stay delivered, a pending retry is sent once', async () => {
    await channel('webhook');
    await budget({ name: 'Restart', limit_usd: 0.001, thresholds: [40, 80] });
    await ingest();
    await runOnce();
    expect(receiver.received).toHaveLength(1);
    receiver.script([500]);
    await ingest();
    await runOnce();
    expect(receiver.received).toHaveLength(2);

    await close();
    running = await open();
    clock.advance(30_000);
    await runOnce();
    await runOnce();
    expect(bodies().map((b) => b.threshold_percent)).toEqual([40, 80, 80]);
    // Usage that stays between thresholds after the restart fires nothing again.
    await ingest({ prompt_tokens: 10, completion_tokens: 1 });
    await runOnce();
    expect(receiver.received).toHaveLength(3);
    const log = (await admin('GET', '/budgets/deliveries')).json().deliveries;
    expect(log.map((d: { status: string }) => d.status)).toEqual(['delivered', 'delivered']);
  });

  test('a Slack channel gets a readable message with the numbers and a link to the dashboard', async () => {
    await channel('slack');
    const created = await budget({ name: 'Search <team> & co', limit_usd: 0.001, thresholds: [80] });
    await ingest();
    await ingest();
    await runOnce();
    const [message] = bodies();
    expect(Object.keys(message)).toEqual(['text']);
    expect(message.text).toContain(
      'Budget "Search &lt;team&gt; &amp; co" reached 80% of its limit: $0.0009 of $0.001',
    );
    expect(message.text).toContain(
      `<https://costs.example.com/dashboard?view=budgets&budget=${created.id}|Open in Cost Guardian>`,
    );
    expect(message.text).toContain('Forecast at 2026-12-01 00:00 UTC');
    expect(receiver.received[0]?.headers['x-costguardian-signature']).toBeUndefined();
  });

  test('send test delivers at once and answers with the delivery; a failing channel says why', async () => {
    const hook = await channel('webhook');
    const sent = await admin('POST', `/budgets/channels/${hook.id}/test`, {});
    expect(sent.statusCode, sent.body).toBe(200);
    expect(sent.json()).toMatchObject({ status: 'delivered', attempts: 1, alert: { kind: 'test' } });
    expect(bodies()[0]).toMatchObject({ type: 'test', channel: { id: hook.id, name: 'webhook' } });
    receiver.script([500]);
    const failed = (await admin('POST', `/budgets/channels/${hook.id}/test`, {})).json();
    expect(failed).toMatchObject({ status: 'pending', last_status_code: 500, last_error: 'HTTP 500' });
    const closed = await startReceiver();
    await closed.close();
    const nowhere = await admin('POST', '/budgets/channels', { name: 'x', kind: 'webhook', url: closed.url });
    const refused = (await admin('POST', `/budgets/channels/${nowhere.json().id}/test`, {})).json();
    expect(refused).toMatchObject({ status: 'pending', last_status_code: null, last_error: 'ECONNREFUSED' });
    expect((await admin('POST', '/budgets/channels/999/test', {})).statusCode).toBe(404);
  });

  test('channels: http(s) URLs only; a disabled channel gets nothing; deleting one fails its pending deliveries', async () => {
    expect(
      (await admin('POST', '/budgets/channels', { name: 'f', kind: 'slack', url: 'file:///etc/passwd' }))
        .statusCode,
    ).toBe(400);
    const hook = await channel('webhook', { secret: 'a-secret-of-16-chars-or-more' });
    expect(hook.secret).toBe('a-secret-of-16-chars-or-more');
    const slack = await channel('slack');
    expect(slack.secret).toBeNull();
    await admin('PATCH', `/budgets/channels/${slack.id}`, { enabled: false });
    const disabledTest = await admin('POST', `/budgets/channels/${slack.id}/test`, {});
    expect([disabledTest.statusCode, disabledTest.json().message]).toEqual([
      409,
      'Channel "slack" is disabled: enable it to send a test',
    ]);
    receiver.script([500]);
    await budget({ name: 'B', limit_usd: 0.0005, thresholds: [50] });
    await ingest();
    await runOnce();
    expect(receiver.received).toHaveLength(1);
    expect((await admin('DELETE', `/budgets/channels/${hook.id}`)).statusCode).toBe(200);
    const [delivery] = (await admin('GET', '/budgets/deliveries')).json().deliveries;
    expect(delivery).toMatchObject({
      status: 'failed',
      last_error: 'channel deleted',
      channel: { id: hook.id, name: null },
    });
  });
});

describe('other alerts', () => {
  test('usage of a model with no price alerts once a day per model', async () => {
    await channel('webhook');
    await ingest({ model: 'my-own-finetune' });
    await runOnce();
    await ingest({ model: 'my-own-finetune' });
    await runOnce();
    expect(bodies()).toHaveLength(1);
    expect(bodies()[0]).toMatchObject({
      type: 'unpriced',
      provider: 'openai',
      model: 'my-own-finetune',
      requests: 1,
    });
    await admin('PATCH', '/budgets/alert-settings', { unpriced: { enabled: false } });
    clock.advance(86_400_000);
    await ingest({ model: 'my-own-finetune' });
    await runOnce();
    expect(bodies()).toHaveLength(1);
  });

  test('an hour far above its usual level is an anomaly, for the token and for the model', async () => {
    await channel('webhook');
    const hour = 3_600_000;
    const history = [];
    // Four weeks at $0.50 an hour, then $12 in the current hour so far.
    for (let at = NOW - 28 * 24 * hour; at < NOW; at += hour) {
      history.push(
        usage({
          ts: at + 60_000,
          receivedAt: at + 60_000,
          ingestTokenId: tokenId,
          model: 'gpt-4o-mini',
          costNanoUsd: 500_000_000,
        }),
      );
    }
    await running.store.loadUsage(history);
    clock.set(NOW + 20 * 60_000);
    await running.store.loadUsage([
      usage({
        ts: NOW + 60_000,
        receivedAt: NOW,
        ingestTokenId: tokenId,
        model: 'gpt-4o-mini',
        costNanoUsd: 1_000_000_000,
      }),
    ]);
    await runOnce();
    expect(bodies()).toEqual([]);
    await running.store.loadUsage([
      usage({
        ts: NOW + 120_000,
        receivedAt: NOW,
        ingestTokenId: tokenId,
        model: 'gpt-4o-mini',
        costNanoUsd: 11_000_000_000,
      }),
    ]);
    await runOnce();
    await runOnce();
    const found = bodies().map((b) => [b.type, b.subject, b.cost_usd, b.expected_usd, b.threshold_usd]);
    expect(found).toEqual([
      ['anomaly', 'model:openai/gpt-4o-mini', 12, 0.5, 2],
      ['anomaly', `token:${tokenId}`, 12, 0.5, 2],
    ]);
    expect(bodies()[1].text).toContain(
      'tracking token "prod" cost $12.00 in the hour from 2026-11-20 12:00 UTC',
    );
  });

  test('the anomaly sensitivity is tunable, and validated', async () => {
    expect((await admin('GET', '/budgets/alert-settings')).json()).toEqual({
      anomaly: { enabled: true, sensitivity: 6, min_hourly_usd: 1, baseline_weeks: 4 },
      unpriced: { enabled: true },
    });
    const changed = await admin('PATCH', '/budgets/alert-settings', { anomaly: { sensitivity: 20 } });
    expect(changed.json().anomaly).toMatchObject({ sensitivity: 20, min_hourly_usd: 1 });
    expect(
      (await admin('PATCH', '/budgets/alert-settings', { anomaly: { sensitivity: 0 } })).statusCode,
    ).toBe(400);
    expect(
      (await admin('PATCH', '/budgets/alert-settings', { anomaly: { baseline_weeks: 1.5 } })).statusCode,
    ).toBe(400);
  });

  test('a forecast overrun alerts once a window, with the projection and when the limit is reached', async () => {
    await channel('webhook');
    const hour = 3_600_000;
    const history = [];
    // A cent an hour since the start of the forecast's history (4 weeks before today).
    for (let at = Date.UTC(2026, 9, 23); at < NOW; at += hour) {
      history.push(usage({ ts: at, receivedAt: at, ingestTokenId: tokenId, costNanoUsd: 10_000_000 }));
    }
    await running.store.loadUsage(history);
    // $0.24 a day: November will end at $7.20; the limit of $6 is reached on the 25th.
    await budget({ name: 'Forecast', limit_usd: 6, forecast_alert: true, thresholds: [100] });
    await runOnce();
    await runOnce();
    expect(bodies()).toHaveLength(1);
    expect(bodies()[0]).toMatchObject({
      type: 'forecast',
      spent_usd: 4.68,
      projected_usd: 7.2,
      low_usd: 7.2,
      high_usd: 7.2,
      limit_reached_at: '2026-11-26T00:00:00Z',
      budget: { name: 'Forecast', limit_usd: 6 },
    });
  });
});

describe('the server', () => {
  test('runs the sender itself: an alert recorded by an ingest reaches the receiver without being asked', async () => {
    const serverDir = mkdtempSync(path.join(tmpdir(), 'cg-alerts-server-'));
    const config = testConfig({
      API_KEY: ADMIN_KEY,
      INGEST_KEY,
      DB_PATH: path.join(serverDir, 'usage.sqlite'),
      HOST: '127.0.0.1',
      SERVER_PORT: '0',
    });
    const server = await startServer({
      config,
      store: createSqliteStore(config.dbPath),
      metrics: new Metrics(),
    });
    try {
      const call = async (method: string, url: string, body: unknown, key: 'admin' | 'ingest' = 'admin') => {
        const response = await fetch(`${server.address}${url}`, {
          method,
          headers: {
            'content-type': 'application/json',
            ...(key === 'admin' ? { 'x-api-key': ADMIN_KEY } : { 'x-ingest-key': INGEST_KEY }),
          },
          body: JSON.stringify(body),
        });
        // biome-ignore lint/suspicious/noExplicitAny: a test reading JSON answers
        return (await response.json()) as any;
      };
      const created = await call('POST', '/ingest/tokens', { label: 'live' });
      const hook = await call('POST', '/budgets/channels', {
        name: 'hook',
        kind: 'webhook',
        url: receiver.url,
      });
      await call('POST', '/budgets', {
        name: 'Live',
        limit_usd: 0.0004,
        window: { kind: 'day' },
        thresholds: [100],
      });
      const answer = await call(
        'POST',
        '/ingest',
        { tracking_token: created.token, model: 'gpt-4o-mini', prompt_tokens: 1000, completion_tokens: 500 },
        'ingest',
      );
      expect(answer.budgets[0]).toMatchObject({ verdict: 'exceeded' });
      await expect.poll(() => receiver.received.length, { timeout: 30_000, interval: 100 }).toBe(1);
      expect(bodies()[0]).toMatchObject({ type: 'threshold', threshold_percent: 100 });
      // The verification snippets of docs/budgets.md, as written there, accept it (on the real clock).
      const received = receiver.received[0] as ReceivedRequest;
      expect(await verifyWithDocSnippets(hook.secret, received)).toEqual([true, true]);
      expect(
        await verifyWithDocSnippets(hook.secret, { ...received, body: received.body.replace('100', '101') }),
      ).toEqual([false, false]);
    } finally {
      await server.close();
      rmSync(serverDir, { recursive: true, force: true });
    }
  });
});

/** Runs the JavaScript and Python verification snippets of docs/budgets.md on a received request. */
async function verifyWithDocSnippets(secret: string, request: ReceivedRequest): Promise<[boolean, boolean]> {
  const doc = readFileSync(new URL('../docs/budgets.md', import.meta.url), 'utf8');
  const block = (language: string) => {
    const match = new RegExp(`\`\`\`${language}\n([\\s\\S]*?)\`\`\``).exec(
      doc.slice(doc.indexOf('Verifying the signature')),
    );
    if (!match?.[1]) throw new Error(`no ${language} snippet`);
    return match[1];
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-snippet-'));
  try {
    writeFileSync(path.join(dir, 'verify.mjs'), block('js'));
    const { verifyCostGuardian } = (await import(path.join(dir, 'verify.mjs'))) as {
      verifyCostGuardian: (secret: string, headers: unknown, body: string) => boolean;
    };
    const js = verifyCostGuardian(secret, request.headers, request.body);
    const headers = {
      'X-CostGuardian-Timestamp': request.headers['x-costguardian-timestamp'],
      'X-CostGuardian-Signature': request.headers['x-costguardian-signature'],
    };
    writeFileSync(
      path.join(dir, 'verify.py'),
      `${block('python')}\nimport json, sys\nargs = json.load(sys.stdin)\nprint(verify_cost_guardian(args["secret"], args["headers"], args["body"].encode()))\n`,
    );
    const python = execFileSync('python3', [path.join(dir, 'verify.py')], {
      input: JSON.stringify({ secret, headers, body: request.body }),
      encoding: 'utf8',
    }).trim();
    return [js, python === 'True'];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
