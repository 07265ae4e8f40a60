import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { ingestBatch, launchBrowser, type Served, serve, signIn, usageRecord, watchPage } from './harness.js';

/**
 * Issue 17.2: unpriced usage showed as $0.00 in the chart legend and the top lists.
 * Issue 17.8: the banner said some usage was unpriced but not which, and offered no way to fix it.
 */

let browser: Browser;
let server: Served;
let page: Page | undefined;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser.close();
});
beforeEach(async () => {
  server = await serve();
  const token = await server.createToken('pricing');
  // usageRecord: prompt 1000 + minutes ago, completion 100.
  await ingestBatch(server, [
    usageRecord(token.token, 'acme-large-2', 5),
    usageRecord(token.token, 'acme-large-2', 10),
    usageRecord(token.token, 'gpt-4o-mini', 20),
  ]);
});
afterEach(async () => {
  await page?.close();
  page = undefined;
  await server.close();
});

const topModelRow = (p: Page, model: string) =>
  p
    .locator('section.card', { has: p.getByRole('heading', { name: 'Top models' }) })
    .getByRole('row', { name: model });

test('unpriced usage reads "unpriced" with its count in the legend and the top lists, never $0.00', async () => {
  page = await browser.newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl);
  await page.getByRole('heading', { name: 'Top models' }).waitFor({ timeout: 15_000 });
  const row = topModelRow(page, 'acme-large-2');
  await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain('2 unpriced');
  expect(await row.textContent()).not.toContain('$');
  const legend = page.locator('.legend li', { hasText: 'acme-large-2' });
  expect(await legend.textContent()).toContain('2 unpriced');
  expect(await legend.textContent()).not.toContain('$');
  const tokens = page.locator('section.card', { has: page.getByRole('heading', { name: 'Top tokens' }) });
  expect(await tokens.getByRole('row', { name: /pricing/ }).textContent()).toMatch(
    /\$0\.000\d+.*\+2 unpriced/,
  );
  await page.getByRole('link', { name: 'Tokens' }).click();
  await expect
    .poll(() => page?.locator('tr', { hasText: 'pricing' }).textContent(), { timeout: 15_000 })
    .toContain('+2 unpriced');
  expect(errors).toEqual([]);
});

test('the banner names the unpriced model; a price added in a dialog, previewed and applied prices its rows', async () => {
  page = await browser.newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl);
  const banner = page.getByRole('region', { name: 'Unpriced usage' });
  await banner.waitFor({ timeout: 15_000 });
  expect(await banner.textContent()).toContain('acme-large-2');
  expect(await banner.textContent()).toContain('2 requests');

  await banner.getByRole('button', { name: 'Add a price for acme-large-2' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add a price' });
  await dialog.waitFor();
  await expect.poll(() => dialog.getByLabel('Provider').inputValue(), { timeout: 15_000 }).toBe('openai');
  await dialog.getByLabel('Input, $ per 1M tokens').fill('1');
  await dialog.getByLabel('Output, $ per 1M tokens').fill('2');
  await dialog.getByRole('button', { name: 'Save price and preview' }).click();

  // (1005 + 1010) input tokens at $1/M and 2 x 100 output tokens at $2/M: $0.002415.
  const preview = dialog.getByRole('table', { name: /Repricing preview/ });
  await preview.waitFor({ timeout: 15_000 });
  const cells = await preview.getByRole('row').nth(1).getByRole('cell').allTextContents();
  expect(cells).toEqual(['openai', '2', '2', '2 → 0', 'unpriced → $0.002415']);
  // A dry run: nothing stored changed yet.
  const before = (await (await server.admin('GET', '/data?model=acme-large-2')).json()).data;
  expect(before.map((r: { estimatedCostUSD: unknown }) => r.estimatedCostUSD)).toEqual([null, null]);

  await dialog.getByRole('button', { name: 'Reprice 2 rows' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: 15_000 });
  await page.getByText('Repriced 2 rows of acme-large-2.').waitFor({ timeout: 15_000 });
  await banner.waitFor({ state: 'hidden', timeout: 15_000 });
  await expect
    .poll(() => topModelRow(page as Page, 'acme-large-2').textContent(), { timeout: 15_000 })
    .toContain('$0.00242');
  expect(await topModelRow(page, 'acme-large-2').textContent()).not.toContain('unpriced');

  const after = (await (await server.admin('GET', '/data?model=acme-large-2')).json()).data;
  expect(after.map((r: { estimatedCostUSD: number }) => r.estimatedCostUSD).sort()).toEqual([
    0.001205, 0.00121,
  ]);
  const runs = (await (await server.admin('GET', '/prices/reprice')).json()).runs;
  expect(runs[0]).toMatchObject({
    kind: 'reprice',
    rows_changed: 2,
    actor: expect.stringMatching(/^dashboard@/),
  });
  const overrides = (await (await server.admin('GET', '/prices/overrides')).json()).db.overrides;
  expect(overrides.openai).toEqual([
    expect.objectContaining({ id: 'acme-large-2', prices: { input_mtok: 1, output_mtok: 2 } }),
  ]);
  expect(errors).toEqual([]);
});

test('a price is added next to the overrides already saved, which stay as they were', async () => {
  const existing = {
    openai: [
      {
        id: 'ft:gpt-4o-mini:acme',
        match: { starts_with: 'ft:gpt-4o-mini:acme' },
        prices: { input_mtok: 0.3, output_mtok: 1.2 },
      },
    ],
    acme: [{ id: 'acme-tiny', prices: { input_mtok: 0.1, output_mtok: 0.2 } }],
  };
  expect((await server.admin('PUT', '/prices/overrides', { overrides: existing })).statusCode).toBe(200);
  page = await browser.newPage();
  await signIn(page, server.baseUrl);
  await page.getByRole('button', { name: 'Add a price for acme-large-2' }).click({ timeout: 15_000 });
  const dialog = page.getByRole('dialog', { name: 'Add a price' });
  await expect.poll(() => dialog.getByLabel('Provider').inputValue(), { timeout: 15_000 }).toBe('openai');
  await dialog.getByLabel('Input, $ per 1M tokens').fill('1');
  await dialog.getByLabel('Cached input (optional)').fill('0.5');
  await dialog.getByLabel('Output, $ per 1M tokens').fill('2');
  await dialog.getByRole('button', { name: 'Save price and preview' }).click();
  await dialog.getByRole('table', { name: /Repricing preview/ }).waitFor({ timeout: 15_000 });
  await dialog.getByRole('button', { name: 'Not now' }).click();
  await dialog.waitFor({ state: 'hidden' });
  const overrides = (await (await server.admin('GET', '/prices/overrides')).json()).db.overrides;
  expect(overrides.acme).toEqual([expect.objectContaining(existing.acme[0])]);
  expect(overrides.openai).toEqual([
    expect.objectContaining(existing.openai[0]),
    expect.objectContaining({
      id: 'acme-large-2',
      prices: { input_mtok: 1, output_mtok: 2, cache_read_mtok: 0.5 },
    }),
  ]);
  // Not repriced: the stored rows are still unpriced, and the banner still says so.
  expect(await page.getByRole('region', { name: 'Unpriced usage' }).isVisible()).toBe(true);
});
