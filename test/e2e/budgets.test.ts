import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { INGEST_KEY } from '../helpers.js';
import { startReceiver, type WebhookReceiver } from '../webhook-receiver.js';
import { launchBrowser, type Served, serve, signIn, usageRecord, watchPage } from './harness.js';

/** The Budgets page in Chromium, against the real service: create, edit, chart, channels, delivery log. */

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let browser: Browser;
let server: Served;
let receiver: WebhookReceiver;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser.close();
});
beforeEach(async () => {
  server = await serve();
  receiver = await startReceiver();
});
afterEach(async () => {
  await server.close();
  await receiver.close();
});

async function ingest(records: unknown[]) {
  const response = await server.app.inject({
    method: 'POST',
    url: '/ingest/batch',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: { records },
  });
  expect(response.json().created).toBe(records.length);
}

async function violations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate<{
    violations: { id: string; help: string; nodes: { target: string[] }[] }[];
  }>(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })`);
  return result.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
  );
}

const item = (page: Page, name: string) =>
  page.locator('li.budget-item', { has: page.getByRole('heading', { name }) });

test('create a budget in the dialog, see its spend and chart, edit it, and delete it', async () => {
  const token = await server.createToken('checkout');
  await ingest([0, 20, 40].map((minutes) => usageRecord(token.token, 'gpt-4o-mini', minutes)));
  const page = await browser.newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl, { path: '?view=budgets' });
  await page.getByText('No budgets yet.').waitFor();

  await page.getByRole('button', { name: 'New budget' }).click();
  const dialog = page.getByRole('dialog', { name: 'New budget' });
  await dialog.getByLabel('Name').fill('Checkout <daily>');
  await dialog.getByLabel('Limit (USD)').fill('0.01');
  await dialog.getByLabel('Window', { exact: true }).selectOption('day');
  await dialog.getByLabel('Time zone').fill('UTC');
  await dialog.getByLabel('Tracking token').selectOption({ label: 'checkout' });
  await dialog.getByLabel('Model').fill('gpt-4o*');
  await dialog.getByRole('button', { name: 'Create budget' }).click();
  await dialog.waitFor({ state: 'hidden' });

  const card = item(page, 'Checkout <daily>');
  await card.waitFor();
  expect(await card.textContent()).toContain('day in UTC · token 1, model gpt-4o*');
  await expect.poll(() => card.locator('.budget-spend').textContent()).toMatch(/of \$0\.01 \(\d+(\.\d+)?%\)/);
  // The chart of the first budget is shown: spend so far, forecast and band, limit.
  await page.locator('.budget-chart canvas').first().waitFor();
  const legend = await page.locator('.budget-chart .legend').textContent();
  expect(legend).toContain('Spent so far');
  expect(legend).toContain('Forecast');
  expect(legend).toContain('90 % range');
  expect(legend).toContain('Limit $0.01');
  expect(await page.getByRole('heading', { name: 'Checkout <daily>: this window' }).isVisible()).toBe(true);

  await card.getByRole('button', { name: 'Edit Checkout <daily>' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit budget “Checkout <daily>”' });
  expect(await edit.getByLabel('Model').inputValue()).toBe('gpt-4o*');
  await edit.getByLabel('Limit (USD)').fill('0.0005');
  await edit.getByLabel('Alert thresholds (% of the limit)').fill('90');
  await edit.getByRole('button', { name: 'Save budget' }).click();
  await edit.waitFor({ state: 'hidden' });
  await expect.poll(() => card.textContent()).toContain('Exceeded');
  expect(await card.textContent()).toContain('of $0.0005');

  // A bad value is explained in the dialog, which stays open.
  await card.getByRole('button', { name: 'Edit Checkout <daily>' }).click();
  await edit.getByLabel('Time zone').fill('Nowhere/City');
  await edit.getByRole('button', { name: 'Save budget' }).click();
  await expect
    .poll(() => edit.getByRole('alert').textContent())
    .toContain('window.tz must be an IANA time zone');
  await page.keyboard.press('Escape');

  await card.getByRole('button', { name: 'Delete Checkout <daily>' }).click();
  await page
    .getByRole('dialog', { name: 'Delete budget?' })
    .getByRole('button', { name: 'Delete budget' })
    .click();
  await page.getByText('No budgets yet.').waitFor();
  expect(errors).toEqual([]);
  await page.close();
});

test('add a channel, send a test, and see threshold alerts in the delivery log', async () => {
  const token = await server.createToken('app');
  const page = await browser.newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl, { path: '?view=budgets' });
  await page.getByLabel('Channel name').fill('ops hook');
  await page.getByLabel('URL').fill(receiver.url);
  await page.getByRole('button', { name: 'Add channel' }).click();
  await page.getByRole('rowheader', { name: 'ops hook' }).waitFor();
  await page.getByRole('button', { name: 'Send test to ops hook' }).click();
  await page.getByText('Test alert delivered to “ops hook”.').waitFor();
  expect(receiver.received).toHaveLength(1);

  // One record of $0.00021: 105 % of the limit, three thresholds crossed at once.
  const created = await server.admin('POST', '/budgets', {
    name: 'Tiny',
    limit_usd: 0.0002,
    window: { kind: 'day' },
  });
  expect(created.statusCode).toBe(201);
  await ingest([usageRecord(token.token, 'gpt-4o-mini', 1)]);
  await server.app.deps.alerts.runOnce();
  expect(receiver.received).toHaveLength(4);
  await page.reload();
  const rows = page.locator('table.delivery-table tbody tr');
  await expect.poll(() => rows.count()).toBe(4);
  const log = await page.locator('table.delivery-table').textContent();
  expect(log).toContain('Budget "Tiny" reached 100% of its limit');
  expect(log).toContain('Test alert from Cost Guardian');
  expect(await rows.first().textContent()).toContain('delivered');
  expect(errors).toEqual([]);
  await page.close();
});

for (const colorScheme of ['light', 'dark'] as const) {
  test(`the Budgets page and its dialog pass axe's WCAG A/AA checks in the ${colorScheme} theme`, async () => {
    const token = await server.createToken('a11y');
    await server.admin('POST', '/budgets', { name: 'Monthly', limit_usd: 10, window: { kind: 'month' } });
    await server.admin('POST', '/budgets/channels', { name: 'hook', kind: 'webhook', url: receiver.url });
    await ingest([usageRecord(token.token, 'gpt-4o-mini', 1), usageRecord(token.token, 'no-price-model', 2)]);
    await server.admin('POST', '/budgets/channels/1/test', {});
    const context = await browser.newContext({ colorScheme });
    const page = await context.newPage();
    await signIn(page, server.baseUrl, { path: '?view=budgets' });
    await page.locator('.budget-chart canvas').first().waitFor();
    await page.locator('table.delivery-table tbody tr').first().waitFor();
    expect(await violations(page), 'budgets').toEqual([]);
    await page.getByRole('button', { name: 'New budget' }).click();
    await page.getByRole('dialog').waitFor();
    expect(await violations(page), 'budget dialog').toEqual([]);
    await context.close();
  });
}
