import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.js';
import { createRepriceServiceFromConfig } from '../src/repricing/reprice-service.js';
import { ROLLUP_TABLES, RollupWriter } from '../src/storage/sqlite/rollup-writer.js';
import { createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

/**
 * Issue 17 item 5: claude-sonnet-4, anthropic/claude-sonnet-4 (LiteLLM style) and gemini-2.5-pro sent
 * without a provider were stored as openai, unpriced, and GET /prices?model=claude-sonnet-4 answered
 * `now: null` without a hint. Through the real app on a real SQLite file.
 */

let ctx: TestContext;
let token: string;

beforeEach(async () => {
  ctx = await createTestApp();
  token = (await ctx.createToken('prod')).token;
});
afterEach(async () => {
  await ctx.close();
});

const MTOK = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000 };

async function stored() {
  const rows = (await ctx.admin('GET', '/data?limit=100')).json().data as Record<string, unknown>[];
  return rows
    .map((row) => ({ id: row.id, provider: row.provider, model: row.model, cost: row.estimatedCostUSD }))
    .sort((a, b) => Number(a.id) - Number(b.id));
}

describe('ingest without a provider', () => {
  test('claude-sonnet-4, anthropic/claude-sonnet-4 and gemini-2.5-pro are stored under their provider and priced', async () => {
    const sent = [
      'claude-sonnet-4',
      'anthropic/claude-sonnet-4',
      'gemini-2.5-pro',
      'gemini/gemini-2.5-pro',
      'gpt-4o',
    ];
    for (const model of sent) {
      const response = await ctx.ingest({ tracking_token: token, model, ...MTOK });
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json().pricing_status).toBe('priced');
    }
    expect(await stored()).toEqual([
      // 3 + 15 (Claude Sonnet 4)
      { id: 1, provider: 'anthropic', model: 'claude-sonnet-4', cost: 18 },
      // The prefix named the provider: the stored model is the provider's own name.
      { id: 2, provider: 'anthropic', model: 'claude-sonnet-4', cost: 18 },
      // 2.50 + 15 (Gemini 2.5 Pro above 200K input tokens)
      { id: 3, provider: 'google', model: 'gemini-2.5-pro', cost: 17.5 },
      { id: 4, provider: 'google', model: 'gemini-2.5-pro', cost: 17.5 },
      { id: 5, provider: 'openai', model: 'gpt-4o', cost: 12.5 },
    ]);
  });

  test('an explicit provider always wins, even one that has no price for the model', async () => {
    const response = await ctx.ingest({
      tracking_token: token,
      model: 'claude-sonnet-4',
      provider: 'openai',
      ...MTOK,
    });
    expect(response.json()).toMatchObject({ cost_usd: null, pricing_status: 'unpriced' });
    const prefixed = await ctx.ingest({
      tracking_token: token,
      model: 'anthropic/claude-sonnet-4',
      provider: 'openrouter',
      ...MTOK,
    });
    expect(prefixed.json()).toMatchObject({ pricing_status: 'priced' });
    expect(await stored()).toEqual([
      { id: 1, provider: 'openai', model: 'claude-sonnet-4', cost: null },
      { id: 2, provider: 'openrouter', model: 'anthropic/claude-sonnet-4', cost: 18 },
    ]);
  });

  test('a batch infers per record, and a model nothing knows keeps the default provider, unpriced', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: {
        records: [
          { tracking_token: token, model: 'claude-haiku-4-5', prompt_tokens: 1000, completion_tokens: 100 },
          {
            tracking_token: token,
            model: 'llama-3.3-70b-versatile',
            prompt_tokens: 1000,
            completion_tokens: 100,
          },
          { tracking_token: token, model: 'our-house-model', prompt_tokens: 1000, completion_tokens: 100 },
        ],
      },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect((await stored()).map(({ provider, model }) => `${provider}/${model}`)).toEqual([
      'anthropic/claude-haiku-4-5',
      'groq/llama-3.3-70b-versatile',
      'openai/our-house-model',
    ]);
  });

  test('an Anthropic usage object is read as Anthropic’s for a claude model sent without a provider', async () => {
    const response = await ctx.ingest({
      tracking_token: token,
      model: 'claude-sonnet-4-5-20250929',
      usage: { input_tokens: 400, cache_read_input_tokens: 100, output_tokens: 10 },
    });
    // 400 x 3 + 100 x 0.30 + 10 x 15, per million
    expect(response.json()).toMatchObject({ cost_usd: 0.00138, pricing_status: 'priced' });
    expect((await stored())[0]).toMatchObject({ provider: 'anthropic' });
  });
});

describe('GET /prices?model= without provider', () => {
  test('answers for the inferred provider and says where it came from', async () => {
    const claude = (await ctx.admin('GET', '/prices?model=claude-sonnet-4')).json();
    expect(claude).toMatchObject({
      provider: 'anthropic',
      model: 'claude-sonnet-4',
      provider_from: 'model_name',
      now: { matched_model: 'claude-sonnet-4-0', rates: { input_mtok: 3, output_mtok: 15 } },
      hint: null,
      close_models: [],
    });
    const prefixed = (await ctx.admin('GET', '/prices?model=anthropic/claude-sonnet-4')).json();
    expect(prefixed).toMatchObject({
      provider: 'anthropic',
      model: 'claude-sonnet-4',
      provider_from: 'prefix',
    });
    expect((await ctx.admin('GET', '/prices?model=gemini-2.5-pro')).json()).toMatchObject({
      provider: 'google',
      provider_from: 'model_name',
    });
    expect((await ctx.admin('GET', '/prices?model=gpt-4o')).json()).toMatchObject({
      provider: 'openai',
      provider_from: 'default',
    });
    expect((await ctx.admin('GET', '/prices?model=claude-sonnet-4&provider=openai')).json()).toMatchObject({
      provider: 'openai',
      provider_from: 'request',
      now: null,
    });
  });

  test('a model with no price gets a hint: close names, or the providers that list it', async () => {
    const typo = (await ctx.admin('GET', '/prices?model=claude-sonet-4')).json();
    expect(typo).toMatchObject({ provider: 'anthropic', provider_from: 'model_name', now: null });
    expect(typo.close_models[0]).toEqual({ provider: 'anthropic', model: 'claude-sonnet-4' });
    expect(typo.hint).toMatch(
      /^No price layer knows "claude-sonet-4" for anthropic\. Close names: claude-sonnet-4 \(anthropic\)/,
    );
    expect(typo.hint).toMatch(/add an override \(PUT \/prices\/overrides\), then reprice\.$/);

    const hosted = (await ctx.admin('GET', '/prices?model=meta-llama/llama-3.3-70b-instruct')).json();
    expect(hosted).toMatchObject({ provider: 'openai', provider_from: 'none', now: null });
    expect(hosted.hint).toMatch(/Several providers list it \(.*openrouter.*\): ask with provider=/);

    const unknown = (await ctx.admin('GET', '/prices?model=our-house-model')).json();
    expect(unknown).toMatchObject({ provider: 'openai', provider_from: 'none', now: null, close_models: [] });
    expect(unknown.hint).toMatch(/its name points to no provider/);
  });
});

/** Every rollup row, to compare the incrementally maintained tables with a rebuild from the rows. */
function rollupSnapshot(): Record<string, unknown[]> {
  return Object.fromEntries(
    Object.values(ROLLUP_TABLES).map((table) => [
      table,
      ctx.store.db
        .prepare(
          `SELECT * FROM ${table} ORDER BY dim, detail, bucket_start, dim_value, ingest_token_id, provider, model`,
        )
        .all(),
    ]),
  );
}

function expectRollupsExact(): void {
  const incremental = rollupSnapshot();
  ctx.store.db.transaction(() => new RollupWriter(ctx.store.db).rebuild())();
  expect(rollupSnapshot()).toEqual(incremental);
}

describe('reprice moves rows stored under the default provider to the inferred one', () => {
  /**
   * Rows as the previous build stored them: no inference, so every record got the default provider.
   * That build is a second app on the same database, with a pricer that only prices.
   */
  async function ingestWithoutInference(records: Record<string, unknown>[]) {
    const engine = ctx.app.deps.prices.current();
    const previous = await buildApp({
      config: ctx.app.deps.config,
      store: ctx.store,
      clock: ctx.clock,
      pricer: { price: (query) => engine.price(query) },
    });
    for (const record of records) {
      const response = await previous.inject({
        method: 'POST',
        url: '/ingest',
        headers: { 'x-ingest-key': INGEST_KEY },
        payload: { tracking_token: token, ...record },
      });
      expect(response.statusCode, response.body).toBe(201);
    }
    await previous.close();
  }

  test('a dry run shows the moves, an applied run makes them audited with exact rollups, an undo restores them', async () => {
    await ingestWithoutInference([
      { model: 'claude-sonnet-4', ...MTOK, user: 'ana', tags: { team: 'search' } },
      { model: 'claude-sonnet-4', ...MTOK },
      { model: 'anthropic/claude-sonnet-4', ...MTOK },
      { model: 'gemini-2.5-pro', ...MTOK },
      { model: 'gpt-4o', ...MTOK },
      { model: 'our-house-model', ...MTOK },
    ]);
    expect((await stored()).map((row) => `${row.provider}/${row.model}:${row.cost}`)).toEqual([
      'openai/claude-sonnet-4:null',
      'openai/claude-sonnet-4:null',
      'openai/anthropic/claude-sonnet-4:null',
      'openai/gemini-2.5-pro:null',
      'openai/gpt-4o:12.5',
      'openai/our-house-model:null',
    ]);
    const before = rollupSnapshot();

    const dry = await ctx.admin('POST', '/prices/reprice', {});
    expect(dry.statusCode, dry.body).toBe(200);
    expect(dry.json()).toMatchObject({
      dry_run: true,
      rows: 6,
      changed: 4,
      unpriced_before: 5,
      unpriced_after: 1,
      new_total_usd: 12.5 + 18 * 3 + 17.5,
      provider_moves: [
        { model: 'anthropic/claude-sonnet-4', from: 'openai', to: 'anthropic', rows: 1 },
        { model: 'claude-sonnet-4', from: 'openai', to: 'anthropic', rows: 2 },
        { model: 'gemini-2.5-pro', from: 'openai', to: 'google', rows: 1 },
      ],
      audit_id: null,
    });
    expect((await stored()).every((row) => row.provider === 'openai')).toBe(true);
    expect(rollupSnapshot()).toEqual(before);

    const applied = (await ctx.admin('POST', '/prices/reprice', { dry_run: false, actor: 'alice' })).json();
    expect(applied).toMatchObject({ dry_run: false, changed: 4, skipped: 0 });
    expect((await stored()).map((row) => `${row.provider}/${row.model}:${row.cost}`)).toEqual([
      'anthropic/claude-sonnet-4:18',
      'anthropic/claude-sonnet-4:18',
      'anthropic/anthropic/claude-sonnet-4:18',
      'google/gemini-2.5-pro:17.5',
      'openai/gpt-4o:12.5',
      'openai/our-house-model:null',
    ]);
    expectRollupsExact();
    // The analytics read the moved rows under their new provider.
    const top = (await ctx.admin('GET', '/usage/top?by=provider&start=2026-11-01&end=2026-11-30')).json();
    expect(top.items.map((item: { key: string; cost_usd: number }) => [item.key, item.cost_usd])).toEqual([
      ['anthropic', 54],
      ['google', 17.5],
      ['openai', 12.5],
    ]);

    const audit = (await ctx.admin('GET', `/prices/reprice/${applied.audit_id}`)).json();
    expect(audit.run).toMatchObject({
      kind: 'reprice',
      rows_changed: 4,
      actor: expect.stringMatching(/^alice@/),
    });
    expect(audit.changes).toHaveLength(4);
    expect(audit.changes[0]).toMatchObject({
      usage_id: 1,
      old: { cost_usd: null, status: 'unpriced' },
      new: { cost_usd: 18, status: 'priced' },
      provider: { old: 'openai', new: 'anthropic' },
    });

    const undone = (await ctx.admin('POST', `/prices/reprice/${applied.audit_id}/undo`, {})).json();
    expect(undone).toMatchObject({ changed: 4, skipped: 0 });
    expect((await stored()).map((row) => `${row.provider}/${row.model}:${row.cost}`)).toEqual([
      'openai/claude-sonnet-4:null',
      'openai/claude-sonnet-4:null',
      'openai/anthropic/claude-sonnet-4:null',
      'openai/gemini-2.5-pro:null',
      'openai/gpt-4o:12.5',
      'openai/our-house-model:null',
    ]);
    expectRollupsExact();
    expect(rollupSnapshot()).toEqual(before);
  });

  test('infer_provider: false keeps every stored provider; rows under another provider never move', async () => {
    await ingestWithoutInference([{ model: 'claude-sonnet-4', ...MTOK }]);
    await ctx.ingest({ tracking_token: token, model: 'claude-sonnet-4', provider: 'azure', ...MTOK });
    const kept = (await ctx.admin('POST', '/prices/reprice', { infer_provider: false })).json();
    expect(kept).toMatchObject({ changed: 0, provider_moves: [] });
    const moved = (await ctx.admin('POST', '/prices/reprice', {})).json();
    expect(moved.provider_moves).toEqual([
      { model: 'claude-sonnet-4', from: 'openai', to: 'anthropic', rows: 1 },
    ]);
  });

  test('the reprice service the CLI uses moves them too', async () => {
    await ingestWithoutInference([{ model: 'claude-sonnet-4', ...MTOK }]);
    const service = await createRepriceServiceFromConfig({
      config: ctx.app.deps.config,
      store: ctx.store,
      clock: ctx.clock,
    });
    const result = await service.reprice({ dryRun: false, actor: 'cli:test' });
    expect(result.providerMoves).toEqual([
      { model: 'claude-sonnet-4', from: 'openai', to: 'anthropic', rows: 1 },
    ]);
    expect((await stored())[0]).toMatchObject({ provider: 'anthropic', cost: 18 });
  });
});
