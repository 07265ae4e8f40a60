/**
 * GET /budgets (20 budgets, each with its forecast) on the 10M-row benchmark database, through a
 * real listening server. Budgets read their own counters (budget_spend), never usage rows; this
 * measures that, and how long creating each budget takes (counting its past from the rollups).
 *
 *   npx tsx bench/generate.ts --out /tmp/cg-bench-10m.sqlite   # once (about 1.5-10 minutes)
 *   npx tsx bench/budgets.ts [--db /tmp/cg-bench-10m.sqlite] [--requests 100]
 *
 * The database gets 20 budgets (and loses them again at the end). The clock is the day before the
 * data ends (2026-11-27 12:00 UTC), so that every window has spend in it.
 */
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { createManualClock } from '../src/lib/clock.js';
import { createSqliteStore } from '../src/storage/sqlite/sqlite-store.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: '/tmp/cg-bench-10m.sqlite' },
    requests: { type: 'string', default: '100' },
    now: { type: 'string', default: '2026-11-27T12:00:00Z' },
  },
});

const KEY = 'bench-admin-key-0123456789';

const BUDGETS: Record<string, unknown>[] = [
  { window: { kind: 'month', tz: 'UTC' } },
  { window: { kind: 'month', tz: 'America/New_York' }, scope: { token_id: 1 } },
  { window: { kind: 'week', tz: 'Europe/Paris' }, scope: { token_id: 2 } },
  { window: { kind: 'day', tz: 'Asia/Tokyo' }, scope: { token_id: 3 } },
  { window: { kind: 'month', tz: 'Asia/Kolkata' } },
  { window: { kind: 'rolling', hours: 24 } },
  { window: { kind: 'rolling', days: 7 }, scope: { model: 'gpt-4o*' } },
  { window: { kind: 'rolling', days: 30 }, scope: { provider: 'anthropic' } },
  { window: { kind: 'month', tz: 'UTC' }, scope: { model: 'gpt-4.1-2025-04-14' } },
  { window: { kind: 'week', tz: 'UTC' }, scope: { model: 'claude-*' } },
  { window: { kind: 'day', tz: 'UTC' }, scope: { provider: 'google' } },
  { window: { kind: 'month', tz: 'UTC' }, scope: { tags: { env: 'prod' } } },
  { window: { kind: 'week', tz: 'UTC' }, scope: { tags: { team: 'search' } } },
  { window: { kind: 'month', tz: 'UTC' }, scope: { user: 'user-0001' } },
  { window: { kind: 'day', tz: 'America/Los_Angeles' }, scope: { token_id: 1, model: 'gpt-4o-mini*' } },
  { window: { kind: 'month', tz: 'UTC' }, scope: { token_id: 2, tags: { feature: 'chat' } } },
  { window: { kind: 'rolling', hours: 6 }, scope: { model: 'gpt-5*' } },
  { window: { kind: 'week', tz: 'Australia/Adelaide' }, scope: { token_id: 4 } },
  { window: { kind: 'month', tz: 'Europe/Berlin' }, scope: { provider: 'openai', tags: { env: 'staging' } } },
  { window: { kind: 'rolling', days: 3 }, scope: { token_id: 5 } },
];

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function main() {
  const clock = createManualClock(Date.parse(values.now));
  const store = createSqliteStore(values.db);
  const config = testConfig({ API_KEY: KEY, RATE_LIMIT_RPM: '1000000', DB_PATH: values.db });
  const app = await buildApp({ config, store, clock });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-api-key': KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<{ budgets: { id: number; counted: boolean; forecast: unknown }[] }>;
  };
  const ids: number[] = [];
  try {
    for (const existing of (await call('GET', '/budgets')).budgets)
      await call('DELETE', `/budgets/${existing.id}`);
    const creates: number[] = [];
    for (const [i, budget] of BUDGETS.entries()) {
      const started = performance.now();
      const created = (await call('POST', '/budgets', {
        name: `bench ${i}`,
        limit_usd: 1000,
        ...budget,
      })) as unknown as {
        id: number;
      };
      creates.push(performance.now() - started);
      ids.push(created.id);
    }
    const sortedCreates = [...creates].sort((a, b) => a - b);
    console.log(
      `create (counts 4-5 weeks of each budget's past): median ${quantile(sortedCreates, 0.5).toFixed(0)} ms, max ${Math.max(...creates).toFixed(0)} ms, total ${(creates.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s`,
    );
    const list = await call('GET', '/budgets');
    if (list.budgets.length !== 20 || list.budgets.some((b) => !b.counted || !b.forecast))
      throw new Error('expected 20 counted budgets with forecasts');
    for (let i = 0; i < 5; i += 1) await call('GET', '/budgets');
    const requests = Number(values.requests);
    const times: number[] = [];
    for (let i = 0; i < requests; i += 1) {
      const started = performance.now();
      await call('GET', '/budgets');
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    console.log(
      `GET /budgets, 20 budgets with forecasts, ${requests} requests one after another: median ${quantile(times, 0.5).toFixed(1)} ms, p95 ${quantile(times, 0.95).toFixed(1)} ms, max ${(times[times.length - 1] ?? 0).toFixed(1)} ms   (target <= 50 ms)`,
    );
    const detail: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const started = performance.now();
      await call('GET', `/budgets/${ids[i % ids.length]}`);
      detail.push(performance.now() - started);
    }
    detail.sort((a, b) => a - b);
    console.log(
      `GET /budgets/:id (chart data): median ${quantile(detail, 0.5).toFixed(1)} ms, max ${(detail[detail.length - 1] ?? 0).toFixed(1)} ms`,
    );
  } finally {
    for (const id of ids) await call('DELETE', `/budgets/${id}`).catch(() => undefined);
    await app.close();
    await store.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
