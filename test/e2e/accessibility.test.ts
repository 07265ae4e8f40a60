import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { ADMIN_KEY } from '../helpers.js';
import { Contexts, launchBrowser, type Served, serve, signIn, usageRecord } from './harness.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let browser: Browser;
let server: Served;
const contexts = new Contexts(() => browser);
beforeAll(async () => {
  browser = await launchBrowser();
  // A tiny ingest limit, so that the refused-records warning is on every view axe checks.
  server = await serve({ INGEST_RPM: '1', INGEST_BURST: '3' });
  const token = await server.createToken('a11y-service');
  for (const [i, model] of ['gpt-4o-mini', 'gpt-4o', 'model-without-price'].entries()) {
    await server.ingest(usageRecord(token.token, model, i * 30));
  }
  expect((await server.ingest(usageRecord(token.token, 'gpt-4o', 1))).statusCode).toBe(429);
  expect((await server.ingest(usageRecord('no-such-token-0123456789', 'gpt-4o', 1))).statusCode).toBe(404);
});
afterEach(async () => {
  await contexts.closeAll();
});
afterAll(async () => {
  await browser.close();
  await server.close();
});

/**
 * axe-core (WCAG 2.1 A and AA rules: labels, names, contrast, landmarks, ARIA) on what is on
 * screen. Evaluated through the DevTools protocol, which the page's CSP does not apply to.
 */
async function violations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate<{
    violations: { id: string; help: string; nodes: { target: string[] }[] }[];
  }>(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })`);
  return result.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
  );
}

for (const colorScheme of ['light', 'dark'] as const) {
  test(`every view and dialog passes axe's WCAG A/AA checks in the ${colorScheme} theme`, async () => {
    const context = await contexts.newContext({ colorScheme });
    const page = await context.newPage();
    await page.goto(`${server.baseUrl}/dashboard`);
    await page.getByLabel('Admin key').waitFor();
    expect(await violations(page), 'sign-in').toEqual([]);
    await page.getByLabel('Admin key').fill('wrong-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await violations(page), 'sign-in error').toEqual([]);

    await signIn(page, server.baseUrl, { path: '?view=usage' });
    await page.locator('table.usage-table tbody tr td').first().waitFor();
    await page
      .getByRole('status', { name: 'Refused usage records' })
      .getByText(/unknown tracking token/)
      .waitFor();
    expect(await violations(page), 'usage').toEqual([]);
    await page.locator('.column-picker summary').click();
    await page.getByRole('checkbox', { name: 'Reasoning' }).waitFor();
    expect(await violations(page), 'usage column picker').toEqual([]);
    await page.locator('.column-picker summary').click();
    await page.getByRole('button', { name: 'Reset data…' }).click();
    await page.getByRole('dialog').waitFor();
    expect(await violations(page), 'reset dialog').toEqual([]);
    await page.keyboard.press('Escape');

    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('rowheader', { name: /a11y-service/ }).waitFor();
    expect(await violations(page), 'tokens').toEqual([]);
    await page.getByRole('button', { name: 'Snippet for a11y-service' }).click();
    await page.getByRole('dialog').waitFor();
    expect(await violations(page), 'snippet dialog').toEqual([]);
    await page.keyboard.press('Escape');

    await page.getByRole('link', { name: 'Overview' }).click();
    await page.locator('.chart canvas').first().waitFor();
    expect(await violations(page), 'overview').toEqual([]);
    await page.getByText('By tag').waitFor();
    await page.getByText('By provider').click();
    await page.locator('.legend li').first().waitFor();
    expect(await violations(page), 'overview by provider').toEqual([]);
    await page.getByRole('button', { name: 'Add a price for model-without-price' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a price' });
    await dialog.getByLabel('Input, $ per 1M tokens').waitFor();
    expect(await violations(page), 'price dialog').toEqual([]);
    await dialog.getByLabel('Input, $ per 1M tokens').fill('1');
    await dialog.getByLabel('Output, $ per 1M tokens').fill('2');
    await dialog.getByRole('button', { name: 'Save price and preview' }).click();
    await dialog.getByRole('table', { name: /Repricing preview/ }).waitFor();
    expect(await violations(page), 'reprice preview').toEqual([]);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });
}

test('sign-in, navigation and the reset dialog work from the keyboard alone', async () => {
  const page = await contexts.newPage();
  await page.goto(`${server.baseUrl}/dashboard`);
  await page.getByLabel('Admin key').waitFor();
  await page.keyboard.press('Tab');
  expect(await page.evaluate<string>('document.activeElement.id')).toBe('admin-key');
  await page.keyboard.type(ADMIN_KEY);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Space');
  expect(await page.getByLabel(/Remember me/).isChecked()).toBe(true);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();

  const usageLink = page.getByRole('link', { name: 'Usage' });
  await usageLink.focus();
  await page.keyboard.press('Enter');
  await expect.poll(() => page.url()).toContain('view=usage');
  const reset = page.getByRole('button', { name: 'Reset data…' });
  await reset.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Reset all usage data?' });
  await dialog.waitFor();
  expect(await page.evaluate<boolean>('document.activeElement.closest("dialog") !== null')).toBe(true);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  expect(await page.evaluate<string>('document.activeElement.textContent')).toBe('Reset data…');
});

test('the theme button cycles system, light and dark, and the choice survives a reload', async () => {
  const context = await contexts.newContext({ colorScheme: 'light' });
  const page = await context.newPage();
  await signIn(page, server.baseUrl, { path: '?view=tokens' });
  const theme = () => page.evaluate<string | null>("document.documentElement.getAttribute('data-theme')");
  const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
  expect(await theme()).toBeNull();
  const light = await background();
  await page.getByRole('button', { name: /^Theme: system/ }).click();
  await expect.poll(theme).toBe('light');
  await page.getByRole('button', { name: /^Theme: light/ }).click();
  await expect.poll(theme).toBe('dark');
  await expect.poll(background).not.toBe(light);
  await page.reload();
  await page.getByRole('button', { name: /^Theme: dark/ }).waitFor();
  expect(await theme()).toBe('dark');
  await page.getByRole('button', { name: /^Theme: dark/ }).click();
  await expect.poll(theme).toBeNull();
});
