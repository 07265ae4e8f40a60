import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { INGEST_KEY } from '../helpers.js';
import { Contexts, launchBrowser, type Served, serve, signIn, usageRecord, watchPage } from './harness.js';

let browser: Browser;
let server: Served;
const contexts = new Contexts(() => browser);

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser.close();
});
beforeEach(async () => {
  server = await serve();
});
afterEach(async () => {
  await contexts.closeAll();
  await server.close();
});

async function ingestBatch(records: unknown[]) {
  const response = await server.app.inject({
    method: 'POST',
    url: '/ingest/batch',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: { records },
  });
  expect(response.statusCode).toBe(200);
  expect(response.json().created).toBe(records.length);
}

const bodyRows = (page: Page) => page.locator('table.usage-table tbody tr');

test('filters and pages live in the URL: paging, back, a model filter and a reload all keep the view', async () => {
  const a = await server.createToken('alpha');
  const b = await server.createToken('beta');
  const records = [];
  for (let i = 0; i < 120; i += 1) {
    records.push(usageRecord(i % 2 === 0 ? a.token : b.token, i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini', i * 5));
  }
  await ingestBatch(records);
  const page = await contexts.newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(50);
  expect(await page.getByText('Page 1 · rows 1–50').isVisible()).toBe(true);

  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText('Page 2 · rows 51–100').waitFor();
  expect(page.url()).toContain('page=2');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText('Page 3 · rows 101–120').waitFor();
  await expect.poll(() => bodyRows(page).count()).toBe(20);
  await expect.poll(() => page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
  await page.goBack();
  await page.getByText('Page 2 · rows 51–100').waitFor();
  await page.getByRole('button', { name: 'Previous' }).click();
  await page.getByText('Page 1 · rows 1–50').waitFor();

  await page.getByLabel('Model').selectOption('gpt-4o');
  await expect.poll(() => page.url(), { timeout: 15_000 }).toContain('model=gpt-4o');
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(40);
  const models = await page.locator('table.usage-table tbody tr td:nth-child(2)').allTextContents();
  expect(new Set(models)).toEqual(new Set(['gpt-4o']));
  await page.getByLabel('Tracking token').selectOption({ label: 'beta' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(20);

  await page.reload();
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(20);
  expect(await page.getByLabel('Model').inputValue()).toBe('gpt-4o');
  expect(await page.getByLabel('Tracking token').inputValue()).toBe(String(b.id));

  await page.goBack();
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(40);
  expect(await page.getByLabel('Tracking token').inputValue()).toBe('');

  await page.getByLabel('Date range').selectOption('custom');
  const today = await page.getByLabel('To', { exact: true }).inputValue();
  await page.getByLabel('From', { exact: true }).fill(today);
  await expect.poll(() => page.url(), { timeout: 15_000 }).toContain(`start=${today}`);
  await expect
    .poll(() => page.locator('table.usage-table tfoot').textContent(), { timeout: 15_000 })
    .toMatch(/All \d+ requests/);
  expect(errors).toEqual([]);
});

test('a tag on a row filters the table by that tag when clicked, and the totals follow the filter', async () => {
  const token = await server.createToken('tags');
  const records = [];
  for (let i = 0; i < 30; i += 1) {
    records.push(
      usageRecord(token.token, 'gpt-4o-mini', i, { tags: { env: i % 3 === 0 ? 'staging' : 'prod' } }),
    );
  }
  await ingestBatch(records);
  const page = await contexts.newPage();
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(30);
  await expect
    .poll(() => page.locator('table.usage-table tfoot').textContent(), { timeout: 15_000 })
    .toContain('All 30 requests');
  await page.getByRole('button', { name: 'env: staging' }).first().click();
  await expect
    .poll(() => page.url(), { timeout: 15_000 })
    .toContain(`tag=${encodeURIComponent('env:staging')}`);
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(10);
  await expect
    .poll(() => page.locator('table.usage-table tfoot').textContent(), { timeout: 15_000 })
    .toContain('All 10 requests');
  expect(await page.getByLabel('Tag').inputValue()).toBe('env:staging');
  await page.goBack();
  await expect.poll(() => bodyRows(page).count()).toBe(30);
});

test('CSV export downloads every row of the filter, not only the page shown', async () => {
  const token = await server.createToken('csv');
  const records = [];
  for (let i = 0; i < 75; i += 1)
    records.push(usageRecord(token.token, i < 60 ? 'gpt-4o-mini' : 'gpt-4o', i));
  await ingestBatch(records);
  const page = await contexts.newPage({ acceptDownloads: true });
  await signIn(page, server.baseUrl, { path: '?view=usage&model=gpt-4o-mini' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(50);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Export CSV' }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^cost-guardian-\d{4}-\d{2}-\d{2}-\d{6}\.csv$/);
  const text = readFileSync(await download.path(), 'utf8');
  const lines = text
    .replace(/^\uFEFF/, '')
    .trim()
    .split('\r\n');
  expect(lines[0]?.startsWith('id,timestamp,model,promptTokens')).toBe(true);
  expect(lines).toHaveLength(61);
  expect(lines.slice(1).every((line) => line.split(',')[2] === 'gpt-4o-mini')).toBe(true);
});

test('new usage appears without a reload after an ingest', async () => {
  const token = await server.createToken('live');
  await ingestBatch([usageRecord(token.token, 'gpt-4o-mini', 10)]);
  const page = await contexts.newPage();
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(1);
  await page.locator('.live.on').waitFor();
  const response = await server.ingest({
    tracking_token: token.token,
    model: 'gpt-live-arrival',
    prompt_tokens: 5,
    completion_tokens: 5,
  });
  expect(response.statusCode).toBe(201);
  await page.getByRole('cell', { name: 'gpt-live-arrival' }).waitFor();
  await expect.poll(() => bodyRows(page).count()).toBe(2);
});

/** Total `rows` of the usage events the page's EventSource has received (DevTools protocol). */
async function countEventRows(page: Page): Promise<() => number> {
  let rows = 0;
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Network.eventSourceMessageReceived', (message) => {
    if (message.eventName === 'usage') rows += (JSON.parse(message.data) as { rows: number }).rows;
  });
  await cdp.send('Network.enable');
  return () => rows;
}

test('a steady stream of ingests costs the open page one refresh per 10 s, not one per record', async () => {
  const token = await server.createToken('steady');
  const page = await contexts.newPage();
  // The page's timers run on Playwright's fake clock, which the test moves: the 10 s window is
  // checked on page time, however slow the machine.
  await page.clock.install();
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await page.getByText('No usage for these filters.').waitFor();
  await page.locator('.live.on').waitFor();
  const eventRows = await countEventRows(page);
  const dataRequests: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/data') dataRequests.push(request.url());
  });
  const pageNow = () => page.evaluate(() => Date.now());
  /** Moves page time in small steps until `check` holds: renders and effects run on page timers too. */
  const runUntil = (check: () => boolean) =>
    expect
      .poll(async () => {
        if (!check()) await page.clock.runFor(20);
        return check();
      })
      .toBe(true);
  await page.clock.pauseAt((await pageNow()) + 1000);

  expect((await server.ingest(usageRecord(token.token, 'gpt-4o-mini', 0))).statusCode).toBe(201);
  await expect.poll(eventRows).toBe(1);
  const firstRefreshAt = await pageNow();
  await runUntil(() => dataRequests.length === 1);

  for (let i = 0; i < 14; i += 1) {
    expect((await server.ingest(usageRecord(token.token, 'gpt-4o-mini', 0))).statusCode).toBe(201);
  }
  await expect.poll(eventRows).toBe(15);
  const untilJustBeforeWindowEnds = firstRefreshAt + 9_900 - (await pageNow());
  expect(untilJustBeforeWindowEnds).toBeGreaterThan(0);
  await page.clock.runFor(untilJustBeforeWindowEnds);
  await page.evaluate(() => 0);
  expect(dataRequests).toHaveLength(1);

  await runUntil(() => dataRequests.length === 2);
  expect((await pageNow()) - firstRefreshAt).toBeGreaterThanOrEqual(10_000);
  await page.clock.resume();
  await expect.poll(() => bodyRows(page).count()).toBe(15);
  expect(dataRequests).toHaveLength(2);
});

test('script in a model name, a token label or tags is shown as text and never runs', async () => {
  const payloads = {
    model: '<img src=x onerror="window.__xss=1">',
    label: `<script>window.__xss=2</script>'"><svg onload=window.__xss=3>`,
    tag: '<img src=y onerror="window.__xss=4">',
  };
  const token = await server.createToken(payloads.label);
  const response = await server.ingest({
    tracking_token: token.token,
    model: payloads.model,
    prompt_tokens: 10,
    completion_tokens: 10,
    tags: { team: payloads.tag },
  });
  expect(response.statusCode).toBe(201);
  const page = await contexts.newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await page.getByRole('cell', { name: payloads.model }).waitFor();
  await page.getByRole('cell', { name: payloads.label }).waitFor();
  expect(await page.locator('#f-model option').allTextContents()).toContain(payloads.model);
  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByRole('rowheader', { name: payloads.label }).waitFor();
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('cell', { name: payloads.model }).first().waitFor();
  await page.getByText('By token').click();
  await page.locator('.legend-label', { hasText: payloads.label }).waitFor();
  await page.goto(`${server.baseUrl}/dashboard?view=usage&tag=${encodeURIComponent(`team:${payloads.tag}`)}`);
  await page.getByRole('cell', { name: payloads.model }).waitFor();
  await page.getByRole('button', { name: `team: ${payloads.tag}` }).waitFor();
  expect(await page.getByLabel('Tag').inputValue()).toBe(`team:${payloads.tag}`);
  expect(await page.evaluate<unknown>('window.__xss')).toBeUndefined();
  expect(await page.locator('main img, main svg, main script').count()).toBe(0);
  expect(errors).toEqual([]);
});

test('reset needs the confirmation word typed before it deletes anything', async () => {
  const token = await server.createToken('reset');
  await ingestBatch([usageRecord(token.token, 'gpt-4o-mini', 1), usageRecord(token.token, 'gpt-4o', 2)]);
  const page = await contexts.newPage();
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(2);
  await page.getByRole('button', { name: 'Reset data…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Reset all usage data?' });
  const confirm = dialog.getByRole('button', { name: 'Delete all usage' });
  expect(await confirm.isDisabled()).toBe(true);
  await dialog.getByLabel(/Type RESET to confirm/).fill('reset');
  expect(await confirm.isDisabled()).toBe(true);
  await dialog.getByLabel(/Type RESET to confirm/).press('Enter');
  expect((await (await server.admin('GET', '/data')).json()).data).toHaveLength(2);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  expect((await (await server.admin('GET', '/data')).json()).data).toHaveLength(2);

  await page.getByRole('button', { name: 'Reset data…' }).click();
  expect(await dialog.getByLabel(/Type RESET to confirm/).inputValue()).toBe('');
  await dialog.getByLabel(/Type RESET to confirm/).fill('RESET');
  await confirm.click();
  await page.getByText('Deleted 2 usage rows.').waitFor();
  await page.getByText('No usage for these filters.').waitFor();
  expect((await (await server.admin('GET', '/data')).json()).data).toHaveLength(0);
});

test('the overview shows spend per period, the chart stacked by model or token, and top lists', async () => {
  const token = await server.createToken('overview');
  await ingestBatch([
    usageRecord(token.token, 'gpt-4o-mini', 5),
    usageRecord(token.token, 'gpt-4o', 60),
    usageRecord(token.token, 'model-without-price', 30),
  ]);
  const page = await contexts.newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl);
  await page.getByRole('region', { name: 'Spend today' }).waitFor();
  expect(await page.getByRole('region', { name: 'Spend this week' }).isVisible()).toBe(true);
  expect(await page.getByRole('region', { name: 'Spend this month' }).isVisible()).toBe(true);
  await page.getByText(/used a model with no known price/).waitFor();
  await page.locator('.chart canvas').first().waitFor();
  expect(await page.locator('.legend li').allTextContents()).toEqual(
    expect.arrayContaining([expect.stringContaining('gpt-4o')]),
  );
  await page.getByText('By token').click();
  await expect.poll(() => page.url(), { timeout: 15_000 }).toContain('group=token');
  await expect
    .poll(() => page.locator('.legend li').allTextContents(), { timeout: 15_000 })
    .toEqual([expect.stringContaining('overview')]);
  await page.getByRole('heading', { name: 'Top models' }).waitFor();
  expect(errors).toEqual([]);
});
