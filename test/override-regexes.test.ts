import type { FastifyBaseLogger } from 'fastify';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { buildApp } from '../src/app.js';
import { Metrics } from '../src/metrics/metrics.js';
import { ADMIN_KEY, createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

/**
 * Issue 16, hole 1: price-override regexes could hang the process. The nested-quantifier check let
 * these catastrophic patterns through; with the first one stored, one ingest of "a"x40+"!" held the
 * event loop for over a minute, and again after every restart. Regexes now run on RE2's linear-time
 * engine: each test below would hit the test timeout (not fail an assertion) if matching backtracked.
 */

const HOSTILE: readonly { pattern: string; names: readonly string[]; matching: string }[] = [
  {
    pattern: '^([a-z0-9]|[a-z])*-mini$',
    names: [`${'a'.repeat(40)}!`, `${'a'.repeat(199)}!`],
    matching: 'house2-mini',
  },
  { pattern: '(a|a)*$', names: [`${'a'.repeat(40)}!`, `${'a'.repeat(199)}!`], matching: 'anything' },
  { pattern: '(\\w|a)*b', names: ['a'.repeat(200), `${'a'.repeat(100)}!`], matching: 'xyzb' },
  { pattern: 'a*a*a*a*a*a*b', names: ['a'.repeat(200)], matching: 'aab' },
  { pattern: '.*.*.*.*.*.*=', names: ['x'.repeat(200), `${'y'.repeat(199)}-`], matching: 'k=v' },
];

let ctx: TestContext;
let token: string;

beforeEach(async () => {
  ctx = await createTestApp();
  token = (await ctx.createToken('prod')).token;
});
afterEach(async () => {
  await ctx.close();
});

function ping() {
  return ctx.app.inject({ method: 'GET', url: '/ping' });
}

for (const [index, { pattern, names, matching }] of HOSTILE.entries()) {
  test(`override regex ${pattern}: hostile model names are answered promptly, /ping meanwhile, and a matching name is priced`, async () => {
    const put = await ctx.admin('PUT', '/prices/overrides', {
      overrides: {
        openai: [
          { id: `house-${index}`, match: { regex: pattern }, prices: { input_mtok: 1, output_mtok: 1 } },
        ],
      },
    });
    expect(put.statusCode, put.body).toBe(200);

    for (const model of names) {
      const [ingested, pinged] = await Promise.all([
        ctx.ingest({
          tracking_token: token,
          model,
          provider: 'openai',
          prompt_tokens: 10,
          completion_tokens: 5,
        }),
        ping(),
      ]);
      expect(pinged.statusCode).toBe(200);
      expect(ingested.statusCode, ingested.body).toBe(201);
      // The name does not match the pattern (or does, for (a|a)*$, which matches every name).
      const priced = pattern === '(a|a)*$';
      expect(ingested.json()).toMatchObject(
        priced
          ? { cost_usd: 0.000015, pricing_status: 'priced' }
          : { cost_usd: null, pricing_status: 'unpriced' },
      );
    }
    const match = await ctx.ingest({
      tracking_token: token,
      model: matching,
      provider: 'openai',
      prompt_tokens: 1_000_000,
      completion_tokens: 1_000_000,
    });
    expect(match.json()).toMatchObject({ cost_usd: 2, pricing_status: 'priced' });
  });
}

test('a stored hostile override still answers promptly after a restart', async () => {
  const [first] = HOSTILE;
  if (!first) throw new Error('no pattern');
  await ctx.admin('PUT', '/prices/overrides', {
    overrides: { openai: [{ id: 'house', match: { regex: first.pattern }, prices: { input_mtok: 1 } }] },
  });
  await ctx.app.close();
  const app = await buildApp({ config: ctx.app.deps.config, store: ctx.store, clock: ctx.clock });
  try {
    const [ingested, pinged] = await Promise.all([
      app.inject({
        method: 'POST',
        url: '/ingest',
        headers: { 'x-ingest-key': INGEST_KEY },
        payload: { tracking_token: token, model: `${'a'.repeat(40)}!`, prompt_tokens: 3 },
      }),
      app.inject({ method: 'GET', url: '/ping' }),
    ]);
    expect(pinged.statusCode).toBe(200);
    expect(ingested.statusCode).toBe(201);
  } finally {
    await app.close();
  }
});

test('a pattern the linear-time engine cannot run is a 400 naming the entry, and nothing is saved', async () => {
  const response = await ctx.admin('PUT', '/prices/overrides', {
    overrides: {
      openai: [
        { id: 'fine', match: { starts_with: 'fine-' }, prices: { input_mtok: 1 } },
        { id: 'house-mini', match: { regex: '^(?!gpt-)[a-z]+-mini$' }, prices: { input_mtok: 1 } },
        { id: 'echo', match: { regex: '^(a+)\\1$' }, prices: { input_mtok: 1 } },
        { id: 'huge', match: { regex: '[a-z]{1,1000}' }, prices: { input_mtok: 1 } },
      ],
    },
  });
  expect(response.statusCode).toBe(400);
  expect(response.json()).toMatchObject({ status: 'error', code: 'invalid_request' });
  const message = response.json().message as string;
  expect(message).toContain(
    'openai[1] house-mini: match.regex "^(?!gpt-)[a-z]+-mini$" is not accepted by the linear-time (RE2) regex engine: invalid or unsupported Perl syntax: `(?!`',
  );
  expect(message).toContain(
    'openai[2] echo: match.regex "^(a+)\\\\1$" is not accepted by the linear-time (RE2) regex engine',
  );
  expect(message).toContain('openai[3] huge: match.regex "[a-z]{1,1000}" is too large');
  expect(message).not.toContain('openai[0]');
  expect((await ctx.admin('GET', '/prices/overrides')).json().db).toBeNull();
});

/** Records what the app logs at warn level and above. */
function captureLogger(lines: string[]): FastifyBaseLogger {
  const keep = (...args: unknown[]) => {
    const message = args.find((arg) => typeof arg === 'string');
    if (typeof message === 'string') lines.push(message);
  };
  const ignore = () => {};
  const logger = {
    level: 'warn',
    fatal: keep,
    error: keep,
    warn: keep,
    info: ignore,
    debug: ignore,
    trace: ignore,
    silent: ignore,
    child: () => logger,
  };
  return logger as unknown as FastifyBaseLogger;
}

test('a stored override version with a regex this build refuses: the service starts, skips that entry loudly and counts it', async () => {
  // Written as an older build (nested-quantifier check only) accepted it.
  await ctx.store.savePriceOverrides({
    document: JSON.stringify({
      openai: [
        { id: 'house-mini', match: { regex: '^(?!gpt-)[a-z]+-mini$' }, prices: { input_mtok: 1 } },
        { id: 'house-large', match: { equals: 'house-large' }, prices: { input_mtok: 2, output_mtok: 2 } },
      ],
    }),
    createdAt: ctx.clock.now(),
    actor: 'older-build',
    note: null,
  });
  await ctx.app.close();
  const lines: string[] = [];
  const metrics = new Metrics();
  const app = await buildApp({
    config: ctx.app.deps.config,
    store: ctx.store,
    clock: ctx.clock,
    metrics,
    logger: captureLogger(lines),
  });
  try {
    const refusal =
      'price overrides version 1 (database), skipped openai[0] house-mini: match.regex "^(?!gpt-)[a-z]+-mini$" is not accepted by the linear-time (RE2) regex engine';
    expect(lines.some((line) => line.startsWith(refusal))).toBe(true);
    const admin = { 'x-api-key': ADMIN_KEY };
    const overrides = (await app.inject({ method: 'GET', url: '/prices/overrides', headers: admin })).json();
    expect(overrides.refused).toHaveLength(1);
    expect(overrides.refused[0]).toMatch(new RegExp(`^${refusal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(overrides.db.overrides.openai.map((entry: { id: string }) => entry.id)).toEqual(['house-large']);
    const scrape = await app.inject({ method: 'GET', url: '/metrics/prometheus', headers: admin });
    expect(scrape.body).toMatch(/^cg_price_override_entries_refused 1$/m);
    // The valid entry still prices; the skipped one does not.
    const ingest = (model: string) =>
      app.inject({
        method: 'POST',
        url: '/ingest',
        headers: { 'x-ingest-key': INGEST_KEY },
        payload: { tracking_token: token, model, prompt_tokens: 1_000_000, completion_tokens: 0 },
      });
    expect((await ingest('house-large')).json()).toMatchObject({ cost_usd: 2 });
    expect((await ingest('house-mini')).json()).toMatchObject({ cost_usd: null });
    // Saving a corrected version clears the refusal.
    const put = await app.inject({
      method: 'PUT',
      url: '/prices/overrides',
      headers: admin,
      payload: {
        overrides: {
          openai: [{ id: 'house-mini', match: { ends_with: '-mini' }, prices: { input_mtok: 1 } }],
        },
      },
    });
    expect(put.statusCode).toBe(200);
    expect(
      (await app.inject({ method: 'GET', url: '/prices/overrides', headers: admin })).json().refused,
    ).toEqual([]);
    const after = await app.inject({ method: 'GET', url: '/metrics/prometheus', headers: admin });
    expect(after.body).toMatch(/^cg_price_override_entries_refused 0$/m);
  } finally {
    await app.close();
  }
});
