import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { ingestBatch, launchBrowser, type Served, serve, signIn, usageRecord, watchPage } from './harness.js';

/** Issues 17.9 (group and filter), 17.10 (usage table) and 17.11 (layout). */

let browser: Browser;
let server: Served;
let context: BrowserContext | undefined;

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
  await context?.close();
  context = undefined;
  await server.close();
});

async function newPage(options: Parameters<Browser['newContext']>[0] = {}): Promise<Page> {
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
  return context.newPage();
}

/** A function run in the page (this file is type-checked without the DOM library). */
function inPage<R>(body: string): (element: unknown) => R {
  return new Function('element', body) as (element: unknown) => R;
}

const legend = (page: Page) => page.locator('.legend .legend-label').allTextContents();
const bodyRows = (page: Page) => page.locator('table.usage-table tbody tr');

test('the chart groups by provider, user and a tag key; the tag filter offers stored keys and values', async () => {
  const token = await server.createToken('groups');
  await ingestBatch(server, [
    usageRecord(token.token, 'gpt-4o-mini', 5, { user: 'alice', tags: { team: 'search', env: 'prod' } }),
    usageRecord(token.token, 'gpt-4o', 15, { user: 'bob', tags: { team: 'ads', env: 'prod' } }),
    usageRecord(token.token, 'claude-3-5-haiku-20241022', 25, {
      provider: 'anthropic',
      user: 'alice',
      tags: { team: 'search', env: 'staging' },
    }),
  ]);
  const page = await newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl);
  await page.locator('.chart canvas').first().waitFor({ timeout: 15_000 });

  await page.getByText('By provider').click();
  await expect.poll(() => page.url()).toContain('group=provider');
  await expect
    .poll(() => legend(page), { timeout: 15_000 })
    .toEqual(expect.arrayContaining(['openai', 'anthropic']));
  await page.getByText('By user').click();
  await expect
    .poll(() => legend(page), { timeout: 15_000 })
    .toEqual(expect.arrayContaining(['alice', 'bob']));
  await page.getByText('By tag').click();
  await expect.poll(() => page.url()).toMatch(/group=tag%3A(team|env)/);
  await page.getByLabel('Tag key').selectOption('team');
  await expect.poll(() => page.url()).toContain('group=tag%3Ateam');
  await expect
    .poll(() => legend(page), { timeout: 15_000 })
    .toEqual(expect.arrayContaining(['search', 'ads']));
  await page.getByLabel('Tag key').selectOption('env');
  await expect
    .poll(() => legend(page), { timeout: 15_000 })
    .toEqual(expect.arrayContaining(['prod', 'staging']));

  // The tag filter is a list of what is stored, not free text.
  const tag = page.getByLabel('Tag', { exact: true });
  expect(await tag.evaluate((element) => element.tagName)).toBe('SELECT');
  expect(await tag.locator('option').allTextContents()).toEqual([
    'All tags',
    'env: prod',
    'env: staging',
    'team: search',
    'team: ads',
  ]);
  await tag.selectOption('team:ads');
  await expect.poll(() => page.url()).toContain(`tag=${encodeURIComponent('team:ads')}`);
  await page.getByRole('link', { name: 'Usage' }).click();
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(1);
  expect(await bodyRows(page).first().textContent()).toContain('gpt-4o');
  await page.reload();
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(1);
  expect(await page.getByLabel('Tag', { exact: true }).inputValue()).toBe('team:ads');
  expect(errors).toEqual([]);
});

test('provider, cached and reasoning columns can be hidden, and the choice outlives a reload', async () => {
  const token = await server.createToken('columns');
  await ingestBatch(server, [
    usageRecord(token.token, 'o3-mini', 5, { cached_tokens: 512, reasoning_tokens: 64 }),
  ]);
  const page = await newPage();
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(1);
  const headers = () => page.locator('table.usage-table thead th').allTextContents();
  expect(await headers()).toEqual(
    expect.arrayContaining(['Model', 'Provider', 'Input', 'Cached', 'Output', 'Reasoning', 'Total', 'Cost']),
  );
  const cell = (label: string) => bodyRows(page).first().locator(`td[data-label="${label}"]`).textContent();
  expect(await cell('Provider')).toBe('openai');
  expect(await cell('Cached')).toBe('512');
  expect(await cell('Reasoning')).toBe('64');

  await page.locator('.column-picker summary').click();
  await page.getByRole('checkbox', { name: 'Reasoning' }).uncheck();
  await page.getByRole('checkbox', { name: 'Provider' }).uncheck();
  await expect.poll(headers).not.toContain('Reasoning');
  expect(await headers()).not.toContain('Provider');
  expect(await bodyRows(page).first().locator('td').count()).toBe((await headers()).length);
  await page.reload();
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(1);
  expect(await headers()).not.toContain('Reasoning');
  expect(await headers()).not.toContain('Provider');
  expect(await headers()).toContain('Cached');
  await page.locator('.column-picker summary').click();
  await page.getByRole('checkbox', { name: 'Reasoning' }).check();
  await expect.poll(headers).toContain('Reasoning');
});

test('costs show every digit that differs ($0.022 next to $0.02), and footers use the singular for one request', async () => {
  const overrides = { acme: [{ id: 'acme-flat', prices: { input_mtok: 1, output_mtok: 0 } }] };
  expect((await server.admin('PUT', '/prices/overrides', { overrides })).statusCode).toBe(200);
  const token = await server.createToken('precision');
  const record = (minutesAgo: number, promptTokens: number) =>
    usageRecord(token.token, 'acme-flat', minutesAgo, {
      provider: 'acme',
      prompt_tokens: promptTokens,
      completion_tokens: 0,
    });
  await ingestBatch(server, [record(5, 22_000), record(6, 20_000), record(7, 435)]);
  const page = await newPage();
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(3);
  const costs = await page.locator('table.usage-table tbody td[data-label="Cost"]').allTextContents();
  expect(costs).toEqual(['$0.022', '$0.02', '$0.000435']);
  expect(await page.locator('table.usage-table tfoot td[data-label="Cost"]').textContent()).toBe('$0.042435');

  const one = await server.createToken('single');
  await ingestBatch(server, [usageRecord(one.token, 'gpt-4o-mini', 1)]);
  await page.goto(`${server.baseUrl}/dashboard?view=usage&token=${one.id}`);
  await expect
    .poll(() => page.locator('table.usage-table tfoot').textContent(), { timeout: 15_000 })
    .toContain('The 1 request matching the filters');
});

test('long model names, token labels and tags stay on one line on a desktop, with the full text in a title', async () => {
  const model = `ft:gpt-4o-mini-2024-07-18:acme-corporation-research-division:${'very-long-suffix-'.repeat(6)}x`;
  const label = 'checkout-service-production-eu-west-1-blue-green-canary';
  const token = await server.createToken(label);
  const tags: Record<string, string> = {};
  for (let i = 0; i < 8; i += 1) tags[`key${i}`] = `a value that is fairly long number ${i}`;
  await ingestBatch(server, [
    usageRecord(token.token, model, 5, { tags, user: 'a-user-with-a-long-identifier-0123456789' }),
    usageRecord(token.token, 'gpt-4o-mini', 6),
    // Its footer shows a long exact total and an unpriced count: the cost column must stay narrow.
    usageRecord(token.token, 'model-without-price', 7, { prompt_tokens: 123_456_789 }),
  ]);
  const page = await newPage();
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(3);
  await expect
    .poll(() => page.locator('table.usage-table tfoot').textContent(), { timeout: 15_000 })
    .toContain('+1 unpriced');
  const heights = await bodyRows(page).evaluateAll((rows) =>
    rows.map((row) => row.getBoundingClientRect().height),
  );
  expect(heights[0]).toBeLessThanOrEqual((heights[1] ?? 0) + 1);
  const modelCell = bodyRows(page).first().locator('td[data-label="Model"]');
  expect(await modelCell.getAttribute('title')).toBe(model);
  expect(await modelCell.textContent()).toBe(model);
  expect(await bodyRows(page).first().locator('td[data-label="Token"]').getAttribute('title')).toBe(label);
  expect(await bodyRows(page).first().locator('td[data-label="Tags"]').getAttribute('title')).toContain(
    'key7: a value that is fairly long number 7',
  );
  // The table fits its card: nothing scrolls sideways.
  const overflow = await page.locator('.table-wrap').evaluate((wrap) => wrap.scrollWidth - wrap.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test('the snippet dialog’s code box uses the width of the dialog', async () => {
  await server.createToken('snippet-width');
  const page = await newPage();
  await signIn(page, server.baseUrl, { path: '?view=tokens' });
  await page.getByRole('button', { name: 'Snippet for snippet-width' }).click({ timeout: 15_000 });
  const dialog = page.getByRole('dialog');
  const code = dialog.getByLabel('Snippet code');
  await code.waitFor();
  const widths = await dialog.evaluate(
    inPage<{ inner: number; code: number }>(`
      const style = getComputedStyle(element);
      const inner = element.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return { inner, code: element.querySelector('textarea').getBoundingClientRect().width };`),
  );
  expect(widths.inner).toBeGreaterThan(500);
  expect(widths.code).toBeGreaterThanOrEqual(widths.inner - 2);
});

test('on a phone, the field names of table cards never shrink or break mid-word', async () => {
  const long = `ft:gpt-4o-mini-2024-07-18:acme-corporation:${'x'.repeat(60)}`;
  const token = await server.createToken('a-token-label-that-is-quite-long-for-a-phone-screen');
  await ingestBatch(server, [
    usageRecord(token.token, long, 5, { tags: { feature: 'autocomplete-suggestions-in-the-search-box' } }),
  ]);
  const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await signIn(page, server.baseUrl, { path: '?view=usage' });
  await expect.poll(() => bodyRows(page).count(), { timeout: 15_000 }).toBe(1);
  /** Each card label (td::before) against the width its text needs on one line. */
  const squeezed = () =>
    page.locator('table td[data-label]').evaluateAll(
      inPage<string[]>(`
      const cells = element;
      const canvas = document.createElement('canvas').getContext('2d');
      const problems = [];
      for (const cell of cells) {
        const before = getComputedStyle(cell, '::before');
        if (before.content === 'none' || cell.offsetParent === null) continue;
        canvas.font = before.fontWeight + ' ' + before.fontSize + ' ' + before.fontFamily;
        const needed = canvas.measureText(cell.getAttribute('data-label')).width;
        const lines = parseFloat(before.height) / parseFloat(before.lineHeight);
        if (parseFloat(before.width) + 0.5 < needed || lines > 1.5)
          problems.push(cell.getAttribute('data-label') + ': ' + before.width + ' for ' + needed.toFixed(1) + 'px, ' + lines + ' lines');
      }
      return problems;`),
    );
  expect(await page.locator('table td[data-label]').count()).toBeGreaterThan(8);
  expect(await squeezed()).toEqual([]);
  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.locator('table.tokens-table td[data-label]').first().waitFor({ timeout: 15_000 });
  expect(await squeezed()).toEqual([]);
  // Nothing on the page scrolls sideways.
  expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
});
