import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type App, buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { createManualClock } from '../src/lib/clock.js';
import { Metrics } from '../src/metrics/metrics.js';
import type { DriftEvent } from '../src/reports/drift-alerts.js';
import { createSqliteStore, type SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import { ANTHROPIC_PATHS, type FakeAdminApi, OPENAI_PATHS, startFakeAdminApi } from './fake-admin-api.js';
import { ADMIN_KEY, INGEST_KEY, T0 } from './helpers.js';

/**
 * Provider reports against a local fake of the OpenAI and Anthropic admin APIs over real HTTP.
 * The pull waits between retries through an injected sleep that records the waits and returns at
 * once: no test waits on a real timer.
 */

const OPENAI_KEY = 'sk-admin-TESTabcdefghijklmnopqrstuvwxyz0123456789';
const ANTHROPIC_KEY = 'sk-ant-admin01-TESTabcdefghijklmnopqrstuvwxyz987654';
const DAY_S = 86_400;
const TODAY_S = Math.floor(T0 / 1000 / DAY_S) * DAY_S;
const daysAgo = (n: number) => TODAY_S - n * DAY_S;
const isoDay = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);

interface Ctx {
  app: App;
  store: SqliteStore;
  fake: FakeAdminApi;
  clock: ReturnType<typeof createManualClock>;
  waits: number[];
  drifts: DriftEvent[];
  logs: string[];
  dir: string;
}
let ctx: Ctx;

async function start(
  env: Record<string, string> = {},
  keys = { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY },
  /** false: drift goes where the service sends it (the log and the alert channels). */
  captureDrift = true,
) {
  const fake = await startFakeAdminApi({ openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY });
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-reports-'));
  const config = testConfig({
    API_KEY: ADMIN_KEY,
    INGEST_KEY,
    DB_PATH: path.join(dir, 'usage.sqlite'),
    RATE_LIMIT_RPM: '100000',
    LOG_LEVEL: 'info',
    OPENAI_ADMIN_KEY: keys.openai,
    OPENAI_ADMIN_BASE_URL: `${fake.url}/v1`,
    ANTHROPIC_ADMIN_KEY: keys.anthropic,
    ANTHROPIC_ADMIN_BASE_URL: fake.url,
    REPORTS_BACKFILL_DAYS: '5',
    ...env,
  });
  const logs: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  const store = createSqliteStore(config.dbPath);
  const clock = createManualClock(T0);
  const waits: number[] = [];
  const drifts: DriftEvent[] = [];
  const app = await buildApp({
    config,
    store,
    clock,
    metrics: new Metrics(),
    logger,
    reports: {
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...(captureDrift ? { drift: { emit: (event: DriftEvent) => void drifts.push(event) } } : {}),
    },
  });
  await app.ready();
  ctx = { app, store, fake, clock, waits, drifts, logs, dir };
}

afterEach(async () => {
  await ctx.app.close();
  await ctx.store.close();
  await ctx.fake.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
  ctx.app.inject({ method, url, headers: { 'x-api-key': ADMIN_KEY }, ...(payload ? { payload } : {}) });
const sync = async () => {
  const response = await admin('POST', '/reports/sync', {});
  expect(response.statusCode).toBe(200);
  return response.json() as {
    jobs: { provider: string; report: string; pages: number; rows: number; error: string | null }[];
    drift_alerts: number;
  };
};

/** OpenAI completions results as the Usage API returns them grouped by model, project, key, batch, tier. */
function openAiUsage(model: string, project: string, input: number, output: number, cached = 0) {
  return {
    object: 'organization.usage.completions.result',
    input_tokens: input,
    output_tokens: output,
    input_cached_tokens: cached,
    input_audio_tokens: 0,
    output_audio_tokens: 0,
    num_model_requests: 10,
    project_id: project,
    user_id: null,
    api_key_id: `key_${project}`,
    model,
    batch: false,
    service_tier: 'default',
  };
}
const openAiCost = (lineItem: string, project: string, usd: number) => ({
  object: 'organization.costs.result',
  amount: { value: usd, currency: 'usd' },
  line_item: lineItem,
  project_id: project,
  api_key_id: null,
});

function seedOpenAi(days: number[]) {
  for (const day of days) {
    ctx.fake.data
      .get(OPENAI_PATHS.completions)
      ?.set(day, [
        openAiUsage('gpt-4o-2024-08-06', 'proj_web', 1_000_000, 200_000, 400_000),
        openAiUsage('gpt-4o-mini-2024-07-18', 'proj_batch', 2_000_000, 500_000),
      ]);
    ctx.fake.data
      .get(OPENAI_PATHS.costs)
      ?.set(day, [
        openAiCost('gpt-4o-2024-08-06, input', 'proj_web', 2.0),
        openAiCost('gpt-4o-2024-08-06, output', 'proj_web', 2.0),
        openAiCost('gpt-4o-mini-2024-07-18, input', 'proj_batch', 0.3),
        openAiCost('gpt-4o-mini-2024-07-18, output', 'proj_batch', 0.3),
        openAiCost('Web search tool calls', 'proj_web', 0.25),
      ]);
  }
}

describe('the pull', () => {
  beforeEach(() => start());

  test('the first run backfills REPORTS_BACKFILL_DAYS through today, following next_page', async () => {
    seedOpenAi([daysAgo(7), daysAgo(5), daysAgo(1), daysAgo(0)]);
    const summary = await sync();
    const completions = summary.jobs.find((j) => j.report === 'completions');
    // Six days (five back and today) at two buckets a page: three pages.
    expect(completions).toEqual({
      provider: 'openai',
      report: 'completions',
      pages: 3,
      rows: 6,
      error: null,
    });
    const asked = ctx.fake.requests.filter((r) => r.path === OPENAI_PATHS.completions);
    expect(asked[0]?.query.get('start_time')).toBe(String(daysAgo(5)));
    expect(asked[0]?.query.getAll('group_by[]')).toEqual([
      'model',
      'project_id',
      'api_key_id',
      'batch',
      'service_tier',
    ]);
    expect(asked.map((r) => r.query.get('page'))).toEqual([null, expect.any(String), expect.any(String)]);

    const spend = (await admin('GET', '/reports/spend?group=day&start=2026-11-20&provider=openai')).json();
    expect(spend.rows.map((r: { key: string }) => r.key)).toEqual([
      isoDay(daysAgo(5)),
      isoDay(daysAgo(1)),
      isoDay(daysAgo(0)),
    ]);
    expect(spend.rows[0]).toMatchObject({ requests: 20, prompt_tokens: 3_000_000, reported_cost_usd: 4.85 });
  });

  test('later runs are incremental and idempotent: they start two days back and replace what they pull again', async () => {
    seedOpenAi([daysAgo(3), daysAgo(1)]);
    await sync();
    // The provider settles yesterday's numbers: one model only, fewer tokens.
    ctx.fake.data
      .get(OPENAI_PATHS.completions)
      ?.set(daysAgo(1), [openAiUsage('gpt-4o-2024-08-06', 'proj_web', 10, 5)]);
    ctx.clock.advance(3_600_000);
    ctx.fake.requests.length = 0;
    await sync();
    expect(ctx.fake.requests.find((r) => r.path === OPENAI_PATHS.completions)?.query.get('start_time')).toBe(
      String(daysAgo(2)),
    );
    const byDay = (await admin('GET', '/reports/spend?group=day&start=2026-11-20&provider=openai')).json()
      .rows;
    expect(byDay.map((r: { key: string; prompt_tokens: number }) => [r.key, r.prompt_tokens])).toEqual([
      [isoDay(daysAgo(3)), 3_000_000],
      [isoDay(daysAgo(1)), 10],
    ]);
  });

  test('429 answers are retried after Retry-After, and a page that fails once is retried', async () => {
    seedOpenAi([daysAgo(2)]);
    ctx.fake.rateLimit(2);
    ctx.fake.failOnce(OPENAI_PATHS.completions, 2);
    const summary = await sync();
    expect(summary.jobs.every((job) => job.error === null)).toBe(true);
    expect(ctx.waits.slice(0, 2)).toEqual([1000, 1000]);
    expect(ctx.fake.requests.filter((r) => r.status === 429)).toHaveLength(2);
    expect(ctx.fake.requests.filter((r) => r.status === 500)).toHaveLength(1);
    const models = (await admin('GET', '/reports/spend?group=model&start=2026-11-20&provider=openai')).json()
      .rows;
    // The web search line names no model: its cost is under ''.
    expect(models.map((r: { key: string }) => r.key)).toEqual([
      'gpt-4o-2024-08-06',
      'gpt-4o-mini-2024-07-18',
      '',
    ]);
  });

  test('a run that fails half way records why and the next run resumes after the last page written', async () => {
    seedOpenAi([daysAgo(5), daysAgo(4), daysAgo(3), daysAgo(2)]);
    ctx.fake.failAlways(OPENAI_PATHS.completions, 2);
    const failed = await sync();
    expect(failed.jobs.find((j) => j.report === 'completions')).toMatchObject({
      pages: 1,
      error: `${'/organization/usage/completions'}: answered 500 (gave up after 6 attempts)`,
    });
    const status = (await admin('GET', '/reports/status')).json();
    const state = status.reports.find(
      (r: { report: string; provider: string }) => r.provider === 'openai' && r.report === 'completions',
    );
    expect(state).toMatchObject({
      synced_through: `${isoDay(daysAgo(3))}T00:00:00Z`,
      last_error: '/organization/usage/completions: answered 500 (gave up after 6 attempts)',
      last_success_at: null,
    });
    ctx.fake.failAlways(OPENAI_PATHS.completions, null);
    ctx.fake.requests.length = 0;
    await sync();
    expect(ctx.fake.requests.find((r) => r.path === OPENAI_PATHS.completions)?.query.get('start_time')).toBe(
      String(daysAgo(5)),
    );
    const byDay = (await admin('GET', '/reports/spend?group=day&start=2026-11-20&provider=openai')).json()
      .rows;
    expect(byDay).toHaveLength(4);
  });

  test('Anthropic: cache reads and writes are added to the input, costs in cents become dollars', async () => {
    ctx.fake.data.get(ANTHROPIC_PATHS.messages)?.set(daysAgo(1), [
      {
        api_key_id: 'apikey_01',
        workspace_id: 'wrkspc_01',
        model: 'claude-sonnet-4-20250514',
        service_tier: 'standard',
        context_window: '0-200k',
        uncached_input_tokens: 1500,
        cache_creation: { ephemeral_1h_input_tokens: 1000, ephemeral_5m_input_tokens: 500 },
        cache_read_input_tokens: 200,
        output_tokens: 500,
        server_tool_use: { web_search_requests: 10 },
      },
    ]);
    ctx.fake.data.get(ANTHROPIC_PATHS.costs)?.set(daysAgo(1), [
      {
        currency: 'USD',
        amount: '123.78912',
        workspace_id: 'wrkspc_01',
        description: 'Claude Sonnet 4 Usage - Input Tokens',
        cost_type: 'tokens',
        context_window: '0-200k',
        model: 'claude-sonnet-4-20250514',
        service_tier: 'standard',
        token_type: 'uncached_input_tokens',
      },
    ]);
    await sync();
    const asked = ctx.fake.requests.find((r) => r.path === ANTHROPIC_PATHS.messages);
    expect(asked?.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(asked?.query.get('starting_at')).toBe(new Date(daysAgo(5) * 1000).toISOString());
    const rows = (
      await admin('GET', '/reports/spend?group=project&start=2026-11-20&provider=anthropic')
    ).json().rows;
    expect(rows).toEqual([
      expect.objectContaining({
        key: 'wrkspc_01',
        prompt_tokens: 3200,
        completion_tokens: 500,
        cached_tokens: 200,
        reported_cost_usd: 1.2378912,
      }),
    ]);
    expect(rows[0].estimated_cost_usd).toBeGreaterThan(0);
  });
});

describe('reconciliation', () => {
  beforeEach(() => start({ DRIFT_ALERT_MIN_USD: '0.5' }));

  async function push(
    model: string,
    promptTokens: number,
    completionTokens: number,
    token: string,
    eventId: string,
    cachedTokens = 0,
  ) {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/ingest',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: {
        tracking_token: token,
        model,
        event_id: eventId,
        timestamp: new Date((daysAgo(1) + 3600) * 1000).toISOString(),
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        cached_tokens: cachedTokens,
      },
    });
    expect(response.statusCode).toBe(201);
  }

  test('pushed vs reported per day and model: drift in tokens, dollars and percent, an alert past the threshold, once', async () => {
    seedOpenAi([daysAgo(1)]);
    const token = (await admin('POST', '/ingest/tokens', { label: 'web' })).json();
    // gpt-4o is fully instrumented (same tokens); gpt-4o-mini is not instrumented at all.
    await push('gpt-4o-2024-08-06', 1_000_000, 200_000, token.token, 'call-1', 400_000);
    const first = await sync();
    expect(first.drift_alerts).toBe(1);
    expect(ctx.drifts).toEqual([
      expect.objectContaining({
        provider: 'openai',
        day: isoDay(daysAgo(1)),
        model: 'gpt-4o-mini-2024-07-18',
        projectId: null,
        pushedCostNanoUsd: 0,
        reportedCostNanoUsd: 600_000_000,
        reportedCostSource: 'reported',
        driftNanoUsd: 600_000_000,
        driftPercent: 100,
      }),
    ]);

    const body = (
      await admin(
        'GET',
        `/reports/reconciliation?start=${isoDay(daysAgo(1))}&end=${isoDay(daysAgo(1))}&provider=openai`,
      )
    ).json();
    const rows = Object.fromEntries(body.rows.map((r: { model: string }) => [r.model, r]));
    expect(rows['gpt-4o-2024-08-06']).toMatchObject({
      pushed: { prompt_tokens: 1_000_000, completion_tokens: 200_000 },
      reported: {
        prompt_tokens: 1_000_000,
        completion_tokens: 200_000,
        cost_usd: 4,
        cost_source: 'reported',
      },
      drift_tokens: 0,
      drift_tokens_percent: 0,
    });
    expect(rows['gpt-4o-mini-2024-07-18']).toMatchObject({
      pushed: { requests: 0, cost_usd: 0 },
      reported: { requests: 10, prompt_tokens: 2_000_000 },
      drift_usd: 0.6,
      drift_percent: 100,
      alert: true,
    });

    // The next pull finds the same drift: no second alert.
    ctx.clock.advance(3_600_000);
    expect((await sync()).drift_alerts).toBe(0);
    expect(ctx.drifts).toHaveLength(1);
  });

  test('without an injected sink, a drift becomes an alert in the log of alerts, for the alert channels', async () => {
    await ctx.app.close();
    await ctx.store.close();
    await ctx.fake.close();
    rmSync(ctx.dir, { recursive: true, force: true });
    await start({ DRIFT_ALERT_MIN_USD: '0.5' }, undefined, false);
    // Nothing is pushed: both reported models drift.
    seedOpenAi([daysAgo(1)]);
    expect((await sync()).drift_alerts).toBe(2);
    const alerts = (await admin('GET', '/budgets/alerts')).json().alerts;
    expect(alerts).toHaveLength(2);
    expect(alerts).toContainEqual(
      expect.objectContaining({
        kind: 'drift',
        budget_id: null,
        text: expect.stringContaining(
          `Provider drift on ${isoDay(daysAgo(1))} for openai/gpt-4o-mini-2024-07-18: tracked $0.00, provider $0.60`,
        ),
      }),
    );
    expect(ctx.logs.join('')).toContain('Provider drift openai');
    // The same drift on the next pull records no second alert.
    ctx.clock.advance(3_600_000);
    await sync();
    expect((await admin('GET', '/budgets/alerts')).json().alerts).toHaveLength(2);
  });

  test('a provider project mapped to a tracking token is reconciled on its own', async () => {
    seedOpenAi([daysAgo(1)]);
    const token = (await admin('POST', '/ingest/tokens', { label: 'web' })).json();
    await push('gpt-4o-2024-08-06', 900_000, 200_000, token.token, 'call-1');
    await sync();
    expect(
      (await admin('PUT', '/reports/projects/openai/proj_web', { ingest_token_id: token.id })).statusCode,
    ).toBe(200);
    expect(
      (await admin('PUT', '/reports/projects/openai/proj_web', { ingest_token_id: 999 })).statusCode,
    ).toBe(404);
    const body = (
      await admin(
        'GET',
        `/reports/reconciliation?start=${isoDay(daysAgo(1))}&end=${isoDay(daysAgo(1))}&provider=openai`,
      )
    ).json();
    const project = body.rows.filter((r: { project_id: string | null }) => r.project_id === 'proj_web');
    expect(project).toEqual([
      expect.objectContaining({
        model: 'gpt-4o-2024-08-06',
        ingest_token_id: token.id,
        pushed: expect.objectContaining({ prompt_tokens: 900_000 }),
        reported: expect.objectContaining({ prompt_tokens: 1_000_000, cost_source: 'reported' }),
        drift_tokens: 100_000,
      }),
    ]);
  });
});

describe('the admin key', () => {
  test('is never logged and never in an API answer, even when the provider quotes it back', async () => {
    await start({}, { openai: `${OPENAI_KEY}-wrong`, anthropic: `${ANTHROPIC_KEY}-wrong` });
    seedOpenAi([daysAgo(1)]);
    const sync = await admin('POST', '/reports/sync', {});
    const status = await admin('GET', '/reports/status');
    const openapi = await ctx.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(sync.json().jobs.map((j: { error: string }) => j.error)).toEqual([
      '/organization/usage/completions: the admin key was refused (401)',
      '/organization/usage/embeddings: the admin key was refused (401)',
      '/organization/costs: the admin key was refused (401)',
      '/v1/organizations/usage_report/messages: the admin key was refused (401)',
      '/v1/organizations/cost_report: the admin key was refused (401)',
    ]);
    // The fake quoted the wrong keys in its 401 bodies; they really were sent.
    expect(ctx.fake.requests[0]?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}-wrong`);
    const everything = [
      sync.body,
      status.body,
      openapi.body,
      ctx.logs.join(''),
      JSON.stringify(ctx.app.deps.config),
    ].join('\n');
    expect(ctx.logs.join('')).toContain('Provider report pull failed');
    for (const key of [OPENAI_KEY, ANTHROPIC_KEY]) {
      expect(everything).not.toContain(key);
      expect(everything).not.toContain(key.slice(-12));
    }
  });

  test('without one, nothing is pulled and POST /reports/sync is 409', async () => {
    await start({ OPENAI_ADMIN_KEY: '', ANTHROPIC_ADMIN_KEY: '' });
    const response = await admin('POST', '/reports/sync', {});
    expect([response.statusCode, response.json().code]).toEqual([409, 'conflict']);
    expect((await admin('GET', '/reports/status')).json().providers).toEqual([
      { provider: 'openai', configured: false },
      { provider: 'anthropic', configured: false },
    ]);
  });
});
