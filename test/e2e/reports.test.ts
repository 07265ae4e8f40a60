import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type FakeAdminApi, OPENAI_PATHS, startFakeAdminApi } from '../fake-admin-api.js';
import { launchBrowser, type Served, serve, signIn, usageRecord } from './harness.js';

/**
 * The Provider reports page against the real service and a fake OpenAI admin API: spend from the
 * reports with nothing pushed, the reconciliation with a drift marked, and axe's WCAG checks.
 */

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const OPENAI_KEY = 'sk-admin-E2Eabcdefghijklmnopqrstuvwxyz0123';
const DAY_S = 86_400;

let browser: Browser;
let server: Served;
let fake: FakeAdminApi;
beforeAll(async () => {
  browser = await launchBrowser();
  fake = await startFakeAdminApi({ openai: OPENAI_KEY, anthropic: 'unused' });
  fake.pageSize = 31;
  const yesterday = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S - DAY_S;
  fake.data.get(OPENAI_PATHS.completions)?.set(yesterday, [
    {
      object: 'organization.usage.completions.result',
      input_tokens: 1_000_000,
      output_tokens: 200_000,
      input_cached_tokens: 0,
      num_model_requests: 42,
      project_id: 'proj_checkout',
      api_key_id: 'key_checkout',
      model: 'gpt-4o-2024-08-06',
      batch: false,
      service_tier: 'default',
    },
  ]);
  fake.data.get(OPENAI_PATHS.costs)?.set(yesterday, [
    {
      object: 'organization.costs.result',
      amount: { value: 4.5, currency: 'usd' },
      line_item: 'gpt-4o-2024-08-06, input',
      project_id: 'proj_checkout',
      api_key_id: null,
    },
  ]);
  server = await serve({ OPENAI_ADMIN_KEY: OPENAI_KEY, OPENAI_ADMIN_BASE_URL: `${fake.url}/v1` });
  // A tenth of the calls are tracked: the rest is usage nobody instrumented.
  const token = await server.createToken('checkout');
  await server.ingest(
    usageRecord(token.token, 'gpt-4o-2024-08-06', 0, {
      prompt_tokens: 100_000,
      completion_tokens: 20_000,
      timestamp: new Date((yesterday + 3600) * 1000).toISOString(),
    }),
  );
});
afterAll(async () => {
  await browser.close();
  await server.close();
  await fake.close();
});

async function violations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate<{
    violations: { id: string; help: string; nodes: { target: string[] }[] }[];
  }>(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })`);
  return result.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
  );
}

test('the Provider reports page pulls, shows spend per model and the drift, and passes axe in both themes', async () => {
  for (const colorScheme of ['light', 'dark'] as const) {
    const context = await browser.newContext({ colorScheme });
    const page = await context.newPage();
    await signIn(page, server.baseUrl, { path: '?view=reports' });
    await page.getByRole('button', { name: 'Pull now' }).click();
    await page.getByRole('cell', { name: 'gpt-4o-2024-08-06' }).first().waitFor();
    await page.getByRole('radio', { name: 'Model' }).check();
    await expect
      .poll(() => page.getByRole('cell', { name: '$4.50' }).count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    await page.getByText('drift', { exact: true }).first().waitFor();
    expect(await violations(page), colorScheme).toEqual([]);
    expect(await page.content()).not.toContain(OPENAI_KEY);
    if (process.env.REPORTS_SCREENSHOT)
      await page.screenshot({ path: `${process.env.REPORTS_SCREENSHOT}-${colorScheme}.png`, fullPage: true });
    await context.close();
  }
});
