import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Campaign, explore } from './fuzz/campaign.js';
import { loadRoutes, type Route } from './fuzz/routes.js';
import { FuzzTarget } from './fuzz/target.js';

/**
 * The short, seeded variant of the fuzz harness (`npm run fuzz` is the long one): the real service
 * in production mode with every key set, attacked through every route of its route table with
 * hostile methods, paths, query strings, headers and bodies. docs/reliability.md says what is
 * generated and what each answer must be.
 */
const SEED = 20_261_206;
const RUNS = 2500;
/** The service starts at ~150 MiB; bodies are capped at 1 MiB, so growth past this is a leak. */
const RSS_LIMIT_BYTES = 512 * 2 ** 20;

let target: FuzzTarget;
let routes: Route[];
beforeAll(async () => {
  target = await FuzzTarget.start();
  routes = await loadRoutes({ ENV: 'production', ALLOWED_ORIGINS: target.keys.origin });
}, 120_000);
afterAll(async () => {
  await target?.stop();
});

test('the fuzzer covers every route of the route table, not a hand-kept list', () => {
  const names = routes.map((r) => `${r.method} ${r.url}`);
  for (const route of [
    'POST /ingest',
    'POST /ingest/batch',
    'GET /data',
    'PUT /prices/overrides',
    'GET /docs/*',
    'OPTIONS *',
  ]) {
    expect(names).toContain(route);
  }
  expect(routes.length).toBeGreaterThan(50);
});

test('the harness reports a refused request after which stored data changed', async () => {
  // Another connection's commit stands in for a refused request that wrote something.
  const campaign = new Campaign(target, {
    timeoutMs: 20_000,
    rssLimitBytes: RSS_LIMIT_BYTES,
    interfere: (t) => {
      const db = new Database(t.dbPath);
      db.prepare("UPDATE ingest_tokens SET label = label || '!' WHERE id = 1").run();
      db.close();
      return () => {};
    },
  });
  const refused = {
    route: 'GET /data',
    method: 'GET',
    path: '/data',
    query: [],
    auth: 'none' as const,
    headers: [],
  };
  const finding = await campaign.exercise(refused);
  expect(finding?.problem).toBe('refused with HTTP 401, but stored data changed: ingest_tokens');
});

test(`${RUNS} hostile requests: each answered below 500 or with a documented 503, errors in the one shape, refused ones change no stored data`, async () => {
  const campaign = new Campaign(target, { timeoutMs: 20_000, rssLimitBytes: RSS_LIMIT_BYTES });
  await explore(campaign, routes, { count: RUNS, seed: SEED });
  // Every distinct defect, each with the smallest request fast-check shrank it to.
  expect(campaign.findings.size, campaign.summary()).toBe(0);
  expect(campaign.stats.requests).toBeGreaterThanOrEqual(RUNS);
  expect(target.isAlive()).toBe(true);
}, 300_000);

test('while another process holds the database write lock, every request is answered below 500 or with a documented 503', async () => {
  const campaign = new Campaign(target, {
    timeoutMs: 30_000,
    rssLimitBytes: RSS_LIMIT_BYTES,
    fault: 'write-lock',
  });
  await explore(campaign, routes, { count: 12, seed: SEED });
  expect(campaign.findings.size, campaign.summary()).toBe(0);
}, 300_000);

test('after all of it the service still answers /ping and its RSS stayed under the limit', async () => {
  const ping = await target.send({ method: 'GET', path: '/ping', headers: {} });
  expect(ping.answered && ping.status).toBe(200);
  expect(target.rssBytes()).toBeLessThan(RSS_LIMIT_BYTES);
});
