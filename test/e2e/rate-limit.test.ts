import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { ingestBatch, launchBrowser, type Served, serve, signIn, usageRecord, watchPage } from './harness.js';

/**
 * Issue 17.4: eight page loads in 14 s showed "Rate limit exceeded" next to "No usage for these
 * filters", stuck for over a minute. The signed-in page has its own rate-limit bucket; a 429 is
 * waited out and retried with a notice; a failed load is an error, never "no usage".
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
  // The default admin limit (60 a minute per IP), as a fresh install has it.
  server = await serve({ RATE_LIMIT_RPM: '60' });
  const token = await server.createToken('rate');
  await ingestBatch(server, [
    usageRecord(token.token, 'gpt-4o-mini', 5),
    usageRecord(token.token, 'gpt-4o', 15),
  ]);
});
afterEach(async () => {
  await page?.close();
  page = undefined;
  await server.close();
});

const rows = (p: Page) => p.locator('table.usage-table tbody tr');

/** Answers the first `times` matching requests 429 with Retry-After, then lets them through. */
function refuse(times: number, retryAfterSeconds: number) {
  let refused = 0;
  return async (route: Route) => {
    if (refused >= times) return route.continue();
    refused += 1;
    return route.fulfill({
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds), 'content-type': 'application/json' },
      body: JSON.stringify({
        status: 'error',
        code: 'rate_limited',
        message: 'Rate limit exceeded',
        requestId: 'x',
      }),
    });
  };
}

test('reloading the signed-in overview many times in a row is never rate limited', async () => {
  page = await browser.newPage();
  const { errors } = watchPage(page);
  const statuses: number[] = [];
  page.on('response', (response) => statuses.push(response.status()));
  await signIn(page, server.baseUrl);
  // About ten API requests a load: twelve loads spent twice the old per-IP budget.
  for (let i = 0; i < 12; i += 1) {
    await page.reload();
    await page.getByRole('heading', { name: 'Top models' }).waitFor({ timeout: 15_000 });
  }
  await page.getByRole('link', { name: 'Usage' }).click();
  await expect.poll(() => rows(page as Page).count(), { timeout: 15_000 }).toBe(2);
  expect(statuses.filter((status) => status === 429)).toEqual([]);
  expect(await page.getByText(/Rate limit/).count()).toBe(0);
  expect(errors).toEqual([]);
});

test('a 429 is waited out and retried by itself, saying so, and the usage table never claims "no usage"', async () => {
  page = await browser.newPage();
  await signIn(page, server.baseUrl);
  await page.route('**/data?**', refuse(2, 2));
  await page.getByRole('link', { name: 'Usage' }).click();
  const notice = page.getByRole('status').filter({ hasText: /Rate limited, retrying in \d+ s/ });
  await notice.waitFor({ timeout: 15_000 });
  expect(await page.getByText('No usage for these filters.').count()).toBe(0);
  expect(await page.getByText('Loading usage…').isVisible()).toBe(true);
  await expect.poll(() => rows(page as Page).count(), { timeout: 15_000 }).toBe(2);
  await notice.waitFor({ state: 'hidden', timeout: 15_000 });
  expect(await page.getByText('No usage for these filters.').count()).toBe(0);
});

test('a 429 on the overview shows the retry notice, then the figures', async () => {
  page = await browser.newPage();
  await signIn(page, server.baseUrl, { path: '?view=tokens' });
  await page.route('**/usage/summary?**', refuse(3, 1));
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByText(/Rate limited, retrying in \d+ s/).waitFor({ timeout: 15_000 });
  await page.getByRole('heading', { name: 'Top models' }).waitFor({ timeout: 15_000 });
  await expect
    .poll(() => page?.getByRole('region', { name: 'Spend today' }).textContent(), { timeout: 15_000 })
    .toContain('2 requests');
  await page.getByText(/Rate limited/).waitFor({ state: 'hidden', timeout: 15_000 });
});

test('a load that fails shows an error, not an empty table', async () => {
  page = await browser.newPage();
  await signIn(page, server.baseUrl, { path: '?view=tokens' });
  await page.route('**/data?**', (route) =>
    route.fulfill({
      status: 503,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        status: 'error',
        code: 'unavailable',
        message: 'Database busy',
        requestId: 'x',
      }),
    }),
  );
  await page.getByRole('link', { name: 'Usage' }).click();
  await page.getByText('Usage could not be loaded.').waitFor({ timeout: 15_000 });
  expect(await page.getByRole('alert').textContent()).toContain('Database busy');
  expect(await page.getByText('No usage for these filters.').count()).toBe(0);
});
