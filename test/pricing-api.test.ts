import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { OVERLAY_VERSION } from '../src/pricing/overlay.js';
import { GENAI_PRICES_VERSION } from '../src/pricing/pricing-engine.js';
import { createSqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import { createTestApp, type TestContext } from './helpers.js';

/** The pricing golden cases (pricing.md 4.5) through the HTTP API, on a real SQLite file. */

const PACKAGE = `genai-prices@${GENAI_PRICES_VERSION}`;
const OVERLAY = `overlay@${OVERLAY_VERSION}`;

let ctx: TestContext;
let token: string;

beforeEach(async () => {
  ctx = await createTestApp();
  token = (await ctx.createToken('prod')).token;
});
afterEach(async () => {
  await ctx.close();
});

/** Ingests one record and returns its stored cost in integer nano-dollars (null when unpriced). */
async function ingestCost(record: Record<string, unknown>): Promise<number | null> {
  const response = await ctx.ingest({ tracking_token: token, ...record });
  expect(response.statusCode, response.body).toBe(201);
  const cost = response.json().cost_usd as number | null;
  return cost === null ? null : Math.round(cost * 1e9);
}

async function rows() {
  return (await ctx.admin('GET', '/data')).json().data as Record<string, unknown>[];
}

function storedPricing(id: number) {
  return ctx.store.db
    .prepare(
      `SELECT cost_nanousd AS cost, pricing_status AS status, pricing_source AS source,
              COALESCE(pricing_rates, (SELECT rates FROM pricing_rate_sets WHERE id = pricing_rates_id)) AS rates
         FROM usage_log WHERE id = ?`,
    )
    .get(id) as { cost: number | null; status: string; source: string | null; rates: string | null };
}

describe('golden costs through POST /ingest', () => {
  const cases: [string, Record<string, unknown>, number | null][] = [
    [
      'seed parity: gpt-4o-mini 1000/500',
      { model: 'gpt-4o-mini', prompt_tokens: 1000, completion_tokens: 500 },
      450_000,
    ],
    [
      'cached split from a raw Chat Completions usage',
      {
        model: 'gpt-4o-mini-2024-07-18',
        usage: {
          prompt_tokens: 2000,
          completion_tokens: 500,
          total_tokens: 2500,
          prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0 },
        },
      },
      523_200,
    ],
    [
      'reasoning not double-counted (Responses usage)',
      {
        model: 'o3-2025-04-16',
        usage: {
          input_tokens: 1000,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: 2000,
          output_tokens_details: { reasoning_tokens: 1500 },
          total_tokens: 3000,
        },
      },
      18_000_000,
    ],
    [
      'gpt-4o-2024-05-13',
      { model: 'gpt-4o-2024-05-13', prompt_tokens: 1_000_000, completion_tokens: 1_000_000 },
      20_000_000_000,
    ],
    [
      'gpt-4o-2024-08-06',
      { model: 'gpt-4o-2024-08-06', prompt_tokens: 1_000_000, completion_tokens: 1_000_000 },
      12_500_000_000,
    ],
    [
      'o3 before 2025-06-10',
      {
        model: 'o3',
        timestamp: '2025-06-09T23:59:59Z',
        prompt_tokens: 1_000_000,
        completion_tokens: 1_000_000,
      },
      50_000_000_000,
    ],
    [
      'o3 from 2025-06-10',
      {
        model: 'o3',
        timestamp: '2025-06-10T00:00:00Z',
        prompt_tokens: 1_000_000,
        completion_tokens: 1_000_000,
      },
      10_000_000_000,
    ],
    [
      'gpt-5.4 long context',
      { model: 'gpt-5.4', prompt_tokens: 300_000, completion_tokens: 1000 },
      1_522_500_000,
    ],
    [
      'embeddings (raw usage without completion tokens)',
      {
        model: 'text-embedding-3-small',
        api: 'embeddings',
        usage: { prompt_tokens: 1000, total_tokens: 1000 },
      },
      20_000,
    ],
    [
      'batch halving',
      { model: 'gpt-4o-mini', prompt_tokens: 1000, completion_tokens: 500, batch: true },
      225_000,
    ],
    [
      'priority card (gpt-4o 1.7x)',
      { model: 'gpt-4o', prompt_tokens: 1_000_000, completion_tokens: 1_000_000, service_tier: 'priority' },
      21_250_000_000,
    ],
    [
      'Anthropic usage normalised (cache reads and 5m/1h writes added back to input)',
      {
        model: 'claude-sonnet-4-5-20250929',
        usage: {
          input_tokens: 400,
          cache_creation_input_tokens: 500,
          cache_read_input_tokens: 100,
          cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 200 },
          output_tokens: 10,
          service_tier: 'standard',
        },
      },
      3_705_000,
    ],
    [
      'Gemini usageMetadata normalised (thoughts are output)',
      {
        model: 'gemini-2.5-flash',
        usage: {
          promptTokenCount: 1000,
          cachedContentTokenCount: 100,
          candidatesTokenCount: 5,
          thoughtsTokenCount: 5,
          totalTokenCount: 1010,
        },
      },
      298_000,
    ],
    ...(
      [
        ['ft:gpt-4.1-2025-04-14:acme:support:AbC123', 3_300_000_000],
        ['ft:gpt-4.1-mini-2025-04-14:acme:support:AbC124', 880_000_000],
        ['ft:gpt-4.1-nano-2025-04-14:acme:support:AbC125', 220_000_000],
        ['ft:o4-mini-2025-04-16:acme:grader:AbC126', 4_400_000_000],
        ['ft:gpt-4o-2024-08-06:acme::AbC127', 4_500_000_000],
      ] as const
    ).map(([model, cost]): [string, Record<string, unknown>, number] => [
      `fine-tuned ${model.split(':')[1]} at its fine-tuned rates, cached included (docs/pricing.md)`,
      {
        model,
        usage: {
          prompt_tokens: 1_000_000,
          completion_tokens: 100_000,
          total_tokens: 1_100_000,
          prompt_tokens_details: { cached_tokens: 400_000 },
        },
      },
      cost,
    ]),
    [
      'unknown model is null, never 0',
      { model: 'gpt-7-preview', prompt_tokens: 1000, completion_tokens: 500 },
      null,
    ],
  ];

  for (const [name, record, expected] of cases) {
    test(`${name} costs ${expected === null ? 'null (unpriced)' : `${expected} nano-dollars`}`, async () => {
      expect(await ingestCost(record)).toBe(expected);
    });
  }

  test('a stored row keeps its buckets, its cost and its provenance; the client’s cost is kept beside ours', async () => {
    const response = await ctx.ingest({
      tracking_token: token,
      model: 'claude-haiku-4-5',
      cost_usd: 99,
      usage: {
        input_tokens: 10,
        cache_creation_input_tokens: 30,
        cache_read_input_tokens: 60,
        cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 },
        output_tokens: 5,
        service_tier: 'batch',
      },
    });
    expect(response.json()).toMatchObject({ pricing_status: 'priced' });
    const [row] = await rows();
    expect(row).toMatchObject({
      provider: 'anthropic',
      promptTokens: 100,
      cachedTokens: 60,
      cacheWriteTokens: 30,
      cacheWriteExtendedTokens: 20,
      completionTokens: 5,
      serviceTier: 'batch',
      pricingStatus: 'priced',
      pricingSource: PACKAGE,
      clientCostUSD: 99,
    });
    // (10 x 1 + 60 x 0.1 + 10 x 1.25 + 20 x 2 + 5 x 5) / 2 = 46.75 micro-dollars
    expect(Math.round((row?.estimatedCostUSD as number) * 1e9)).toBe(46_750);
    const stored = storedPricing(row?.id as number);
    expect(JSON.parse(stored.rates ?? '{}')).toMatchObject({
      model: 'claude-haiku-4-5',
      tier: 'batch',
      multiplier: '1/2',
      cache_write_1h_mtok: 2,
    });
  });

  test('the deprecated POST /log is priced by the same engine', async () => {
    await ctx.admin('POST', '/log', { model: 'gpt-4o-mini', promptTokens: 1000, completionTokens: 500 });
    const [row] = await rows();
    expect(row).toMatchObject({ source: 'legacy', estimatedCostUSD: 0.00045, pricingSource: PACKAGE });
  });
});

describe('impossible usage is a 400 naming the problem', () => {
  const cases: [Record<string, unknown>, string][] = [
    [
      { prompt_tokens: 10, cached_tokens: 11 },
      'cached_tokens + cache_write_tokens cannot exceed prompt_tokens',
    ],
    [{ completion_tokens: 10, reasoning_tokens: 11 }, 'reasoning_tokens cannot exceed completion_tokens'],
    [
      { prompt_tokens: 10, cache_write_tokens: 2, cache_write_extended_tokens: 3 },
      'cache_write_extended_tokens cannot exceed cache_write_tokens',
    ],
    [
      { prompt_tokens: 10, usage: { prompt_tokens: 12, completion_tokens: 0 } },
      'prompt_tokens (10) disagrees with usage (12)',
    ],
    [{ api: 'chat', usage: { input_tokens: 12 } }, 'usage has no prompt_tokens (api "chat")'],
    [
      { api: 'soap', prompt_tokens: 1 },
      'api must be one of chat, completions, embeddings, responses, realtime, anthropic, gemini',
    ],
    [
      {
        service_tier: 'priority',
        usage: { input_tokens: 1, cache_read_input_tokens: 0, service_tier: 'batch' },
      },
      'service_tier (priority) disagrees with usage.service_tier (batch)',
    ],
  ];
  for (const [record, message] of cases) {
    test(message, async () => {
      const response = await ctx.ingest({ tracking_token: token, model: 'gpt-4o-mini', ...record });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ status: 'error', code: 'invalid_request' });
      expect(response.json().message).toContain(message);
    });
  }
});

describe('GET /prices', () => {
  test('shows what a model costs now and at a given time, and where the price came from', async () => {
    const response = await ctx.admin('GET', '/prices?model=o3-2025-04-16&at=2025-05-01');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.now).toMatchObject({
      source: PACKAGE,
      matched_model: 'o3',
      effective_from: '2025-06-10',
      rates: { input_mtok: 2, output_mtok: 8, cache_read_mtok: 0.5 },
    });
    expect(body.at).toMatchObject({
      at: '2025-05-01T00:00:00Z',
      effective_from: null,
      effective_until: '2025-06-10',
    });
    expect(body.at.rates).toMatchObject({ input_mtok: 10, output_mtok: 40 });
    expect(body.now.tiers).toContainEqual({
      tier: 'priority',
      multiplier: '7/4',
      status: 'priced',
      reason: null,
    });
    expect(body.sources).toEqual([OVERLAY, PACKAGE]);
  });

  test('a model no source knows has no price, and bad queries are 400s', async () => {
    const unknown = await ctx.admin('GET', '/prices?model=gpt-7-preview');
    expect(unknown.json()).toMatchObject({ provider: 'openai', model: 'gpt-7-preview', now: null });
    expect((await ctx.admin('GET', '/prices')).statusCode).toBe(400);
    expect((await ctx.admin('GET', '/prices?model=gpt-4o&at=yesterday')).statusCode).toBe(400);
  });

  test('other providers are asked by name', async () => {
    const response = await ctx.admin('GET', '/prices?model=claude-sonnet-4-5&provider=anthropic');
    expect(response.json().now.rates.input_mtok).toEqual({ base: 3, tiers: [{ start: 200000, price: 6 }] });
  });
});

describe('price overrides', () => {
  test('a bad PUT is a 400 naming the entry at fault, and changes nothing', async () => {
    const response = await ctx.admin('PUT', '/prices/overrides', {
      overrides: { openai: [{ id: 'gpt-4o-mini', prices: { input_mtok: -1, output_mtok: 1 } }] },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toBe(
      'price overrides: openai[0] gpt-4o-mini: prices.input_mtok must be a number from 0 to 1000000 (USD per million; got -1)',
    );
    expect((await ctx.admin('GET', '/prices/overrides')).json().db).toBeNull();
  });

  test('an override edit prices new usage only: stored costs stay as they were', async () => {
    expect(await ingestCost({ model: 'gpt-4o-mini', prompt_tokens: 1000, completion_tokens: 500 })).toBe(
      450_000,
    );
    const put = await ctx.admin('PUT', '/prices/overrides', {
      overrides: { openai: [{ id: 'gpt-4o-mini', prices: { input_mtok: 1, output_mtok: 1 } }] },
      note: 'negotiated',
      actor: 'alice',
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({
      version: 1,
      affected_models: [{ provider: 'openai', model: 'gpt-4o-mini', requests: 1 }],
      sources: ['override-db@v1', OVERLAY, PACKAGE],
    });
    expect(put.json().message).toMatch(/Stored costs are unchanged/);
    const [old] = await rows();
    expect(old).toMatchObject({ estimatedCostUSD: 0.00045, pricingSource: PACKAGE });
    expect(await ingestCost({ model: 'gpt-4o-mini', prompt_tokens: 1000, completion_tokens: 500 })).toBe(
      1_500_000,
    );
    const overrides = (await ctx.admin('GET', '/prices/overrides')).json();
    expect(overrides.db).toMatchObject({
      version: 1,
      actor: expect.stringMatching(/^alice@/),
      note: 'negotiated',
    });
    expect(overrides.db.overrides.openai[0]).toMatchObject({
      id: 'gpt-4o-mini',
      match: { equals: 'gpt-4o-mini' },
    });
  });

  test('overrides from the API win over PRICES_FILE, which wins over the package; the file survives restarts', async () => {
    await ctx.close();
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-prices-'));
    const file = path.join(dir, 'prices.yaml');
    writeFileSync(
      file,
      'openai:\n  - id: gpt-4o-mini\n    prices: { input_mtok: 0.2, output_mtok: 0.8 }\n  - id: gpt-4o\n    prices: { input_mtok: 1, output_mtok: 2 }\n',
    );
    ctx = await createTestApp({ PRICES_FILE: file });
    rmSync(dir, { recursive: true });
    token = (await ctx.createToken('prod')).token;
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000 };
    expect(await ingestCost({ model: 'gpt-4o', ...usage })).toBe(3_000_000_000);
    expect(await ingestCost({ model: 'gpt-4o-mini', ...usage })).toBe(1_000_000_000);
    await ctx.admin('PUT', '/prices/overrides', {
      overrides: { openai: [{ id: 'gpt-4o-mini', prices: { input_mtok: 0.1, output_mtok: 0.4 } }] },
    });
    expect(await ingestCost({ model: 'gpt-4o-mini', ...usage })).toBe(500_000_000);
    expect(await ingestCost({ model: 'gpt-4o', ...usage })).toBe(3_000_000_000);
    expect(await ingestCost({ model: 'gpt-4.1', ...usage })).toBe(10_000_000_000);
    const overrides = (await ctx.admin('GET', '/prices/overrides')).json();
    expect(overrides.file).toMatchObject({
      path: file,
      version: expect.stringMatching(/^sha256:[0-9a-f]{12}$/),
    });
    expect(overrides.precedence).toEqual(['override-db', 'override-file', 'overlay', 'genai-prices']);
  });

  test('a bad PRICES_FILE stops startup with a message naming the file and the entry', async () => {
    const file = path.join(ctx.dir, 'prices.json');
    writeFileSync(file, JSON.stringify({ openai: [{ id: 'x', prices: { input_mtok: 'cheap' } }] }));
    const store = createSqliteStore(path.join(ctx.dir, 'other.sqlite'));
    try {
      await expect(
        buildApp({
          config: testConfig({ PRICES_FILE: file, DB_PATH: path.join(ctx.dir, 'other.sqlite') }),
          store,
        }),
      ).rejects.toThrow(
        `PRICES_FILE ${file} is not valid:\n  - openai[0] x: prices.input_mtok must be a number or { base, tiers: [{ start, price }] } (got "cheap")`,
      );
      await expect(
        buildApp({ config: testConfig({ PRICES_FILE: path.join(ctx.dir, 'missing.yaml') }), store }),
      ).rejects.toThrow(/missing\.yaml is not valid:\n {2}- cannot be read/);
    } finally {
      await store.close();
    }
  });
});

describe('unpriced models and reprice', () => {
  test('an unknown model is listed with its unpriced usage, priced by an override, then repriced with an audit trail and undone', async () => {
    await ingestCost({ model: 'gpt-7-preview', prompt_tokens: 1000, completion_tokens: 500 });
    await ingestCost({ model: 'gpt-7-preview', prompt_tokens: 2000, completion_tokens: 0 });
    await ingestCost({ model: 'gpt-4o-mini', prompt_tokens: 1000, completion_tokens: 500 });

    const models = (await ctx.admin('GET', '/models?details=true')).json();
    expect(models.models).toEqual(['gpt-4o-mini', 'gpt-7-preview']);
    expect(models.details).toContainEqual(
      expect.objectContaining({
        model: 'gpt-7-preview',
        requests: 2,
        unpriced_requests: 2,
        priced_now: false,
        price_source: null,
      }),
    );
    expect(models.details).toContainEqual(
      expect.objectContaining({
        model: 'gpt-4o-mini',
        unpriced_requests: 0,
        priced_now: true,
        price_source: PACKAGE,
      }),
    );

    await ctx.admin('PUT', '/prices/overrides', {
      overrides: { openai: [{ id: 'gpt-7-preview', prices: { input_mtok: 3, output_mtok: 12 } }] },
    });
    expect((await ctx.admin('GET', '/models?details=true')).json().details).toContainEqual(
      expect.objectContaining({
        model: 'gpt-7-preview',
        unpriced_requests: 2,
        priced_now: true,
        price_source: 'override-db@v1',
      }),
    );

    // A dry run (the default) shows the delta and changes nothing.
    const dry = await ctx.admin('POST', '/prices/reprice', { model: 'gpt-7-preview' });
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({
      dry_run: true,
      scope: { model: 'gpt-7-preview', start: null, end: null },
      rows: 2,
      changed: 2,
      unpriced_before: 2,
      unpriced_after: 0,
      old_total_nanousd: 0,
      new_total_nanousd: 15_000_000,
      delta_nanousd: 15_000_000,
      delta_usd: 0.015,
      audit_id: null,
    });
    expect((await rows()).filter((r) => r.model === 'gpt-7-preview').map((r) => r.estimatedCostUSD)).toEqual([
      null,
      null,
    ]);

    const applied = await ctx.admin('POST', '/prices/reprice', {
      model: 'gpt-7-preview',
      dry_run: false,
      actor: 'bob',
    });
    expect(applied.json()).toMatchObject({
      dry_run: false,
      changed: 2,
      skipped: 0,
      delta_nanousd: 15_000_000,
    });
    const auditId = applied.json().audit_id as number;
    expect(auditId).toBeGreaterThan(0);
    expect((await rows()).filter((r) => r.model === 'gpt-7-preview').map((r) => r.estimatedCostUSD)).toEqual([
      0.006, 0.009,
    ]);
    expect((await rows()).find((r) => r.model === 'gpt-4o-mini')?.estimatedCostUSD).toBe(0.00045);

    const audit = (await ctx.admin('GET', `/prices/reprice/${auditId}`)).json();
    expect(audit.run).toMatchObject({
      id: auditId,
      kind: 'reprice',
      status: 'done',
      actor: expect.stringMatching(/^bob@/),
      scope: { model: 'gpt-7-preview' },
      price_sources: ['override-db@v1', OVERLAY, PACKAGE],
      rows_scanned: 2,
      rows_changed: 2,
      old_total_usd: 0,
      new_total_usd: 0.015,
    });
    expect(audit.changes).toHaveLength(2);
    expect(audit.changes[0]).toMatchObject({
      old: { cost_usd: null, status: 'unpriced', source: null, rates: { reason: 'unknown_model' } },
      new: { cost_nanousd: 9_000_000, status: 'priced', source: 'override-db@v1', rates: { input_mtok: 3 } },
    });
    expect(audit.next_after).toBeNull();
    expect((await ctx.admin('GET', '/prices/reprice')).json().runs.map((r: { id: number }) => r.id)).toEqual([
      auditId,
    ]);

    // Nothing left to change: a second run finds no difference and records nothing.
    expect((await ctx.admin('POST', '/prices/reprice', { dry_run: false })).json()).toMatchObject({
      rows: 3,
      changed: 0,
      audit_id: null,
    });

    const undo = await ctx.admin('POST', `/prices/reprice/${auditId}/undo`, { actor: 'carol' });
    expect(undo.json()).toMatchObject({ changed: 2, new_total_nanousd: 0, old_total_nanousd: 15_000_000 });
    expect((await rows()).filter((r) => r.model === 'gpt-7-preview').map((r) => r.estimatedCostUSD)).toEqual([
      null,
      null,
    ]);
    const runs = (await ctx.admin('GET', '/prices/reprice')).json().runs;
    expect(runs[0]).toMatchObject({
      kind: 'undo',
      undo_of: auditId,
      actor: expect.stringMatching(/^carol@/),
    });
  });

  test('reprice is scoped by call time, and re-prices a package-priced row after an override edit', async () => {
    for (const day of ['2026-11-01', '2026-11-10', '2026-11-20']) {
      await ingestCost({
        model: 'gpt-4o-mini',
        timestamp: `${day}T12:00:00Z`,
        prompt_tokens: 1000,
        completion_tokens: 500,
      });
    }
    await ctx.admin('PUT', '/prices/overrides', {
      overrides: { openai: [{ id: 'gpt-4o-mini', prices: { input_mtok: 1, output_mtok: 1 } }] },
    });
    const run = await ctx.admin('POST', '/prices/reprice', {
      start: '2026-11-05',
      end: '2026-11-10',
      dry_run: false,
    });
    expect(run.json()).toMatchObject({
      rows: 1,
      changed: 1,
      old_total_nanousd: 450_000,
      new_total_nanousd: 1_500_000,
      by_model: [{ provider: 'openai', model: 'gpt-4o-mini', rows: 1, changed: 1, delta_nanousd: 1_050_000 }],
    });
    const costs = Object.fromEntries(
      (await rows()).map((r) => [String(r.timestamp).slice(0, 10), r.estimatedCostUSD]),
    );
    expect(costs).toEqual({ '2026-11-01': 0.00045, '2026-11-10': 0.0015, '2026-11-20': 0.00045 });
    const change = (await ctx.admin('GET', `/prices/reprice/${run.json().audit_id}`)).json().changes[0];
    expect(change.old).toMatchObject({ cost_nanousd: 450_000, source: PACKAGE });
    expect(change.new).toMatchObject({ cost_nanousd: 1_500_000, source: 'override-db@v1' });
  });

  test('reprice and its audit refuse bad input with 4xx', async () => {
    expect(
      (await ctx.admin('POST', '/prices/reprice', { start: '2026-11-10', end: '2026-11-01' })).statusCode,
    ).toBe(400);
    expect((await ctx.admin('POST', '/prices/reprice', { start: 'last week' })).statusCode).toBe(400);
    expect((await ctx.admin('POST', '/prices/reprice', { dry_run: 'no' })).statusCode).toBe(400);
    expect((await ctx.admin('GET', '/prices/reprice/999')).statusCode).toBe(404);
    expect((await ctx.admin('POST', '/prices/reprice/999/undo', {})).statusCode).toBe(404);
  });
});
