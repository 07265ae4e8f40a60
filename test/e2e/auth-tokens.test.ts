import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { ADMIN_KEY } from '../helpers.js';
import { Contexts, launchBrowser, type Served, serve, signIn, tempDir, watchPage } from './harness.js';

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

test('a wrong key says so and stays on the sign-in form; the right key opens the dashboard', async () => {
  const context = await contexts.newContext();
  const page = await context.newPage();
  const { errors } = watchPage(page);
  await page.goto(`${server.baseUrl}/dashboard`);
  await page.getByLabel('Admin key').fill('definitely-not-the-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect
    .poll(() => page.getByRole('alert').textContent(), { timeout: 15_000 })
    .toContain('Wrong admin key');
  expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
  expect(await context.cookies()).toEqual([]);

  await page.getByLabel('Admin key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  const [cookie] = await context.cookies();
  expect(cookie).toMatchObject({ name: 'cg_session', httpOnly: true, sameSite: 'Strict', expires: -1 });
  const stored = await page.evaluate<string>(
    'JSON.stringify({ ...localStorage, ...sessionStorage }) + document.cookie',
  );
  expect(stored).not.toContain(ADMIN_KEY);
  expect(errors).toEqual([]);
});

test('remember me keeps the browser signed in across a restart; without it the restart signs out', async () => {
  for (const remember of [true, false]) {
    const profile = tempDir('cg-profile-');
    try {
      let context = await contexts.persistent(profile.dir);
      let page = context.pages()[0] ?? (await context.newPage());
      await signIn(page, server.baseUrl, { remember });
      await context.close();

      context = await contexts.persistent(profile.dir);
      page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${server.baseUrl}/dashboard`);
      const signedIn = page.getByRole('button', { name: 'Sign out' });
      const form = page.getByLabel('Admin key');
      await Promise.race([signedIn.waitFor(), form.waitFor()]);
      expect(await signedIn.isVisible(), `remember=${remember}`).toBe(remember);
      expect(await form.isVisible(), `remember=${remember}`).toBe(!remember);
      await context.close();
    } finally {
      profile.remove();
    }
  }
});

test('signing out returns to the sign-in form and the old cookie no longer works', async () => {
  const context = await contexts.newContext();
  const page = await context.newPage();
  await signIn(page, server.baseUrl, { remember: true });
  const [cookie] = await context.cookies();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin key').waitFor();
  await page.reload();
  await page.getByLabel('Admin key').waitFor();
  const replay = await fetch(`${server.baseUrl}/ingest/tokens`, {
    headers: { cookie: `cg_session=${cookie?.value}` },
  });
  expect(replay.status).toBe(401);
});

test('development mode without API_KEY needs no sign-in', async () => {
  await server.close();
  server = await serve({ API_KEY: '' });
  const page = await contexts.newPage();
  await page.goto(`${server.baseUrl}/dashboard?view=tokens`);
  await page.getByRole('heading', { name: 'Tracking tokens' }).waitFor();
  expect(await page.getByLabel('Admin key').count()).toBe(0);
  expect(await page.getByText('Dev mode').isVisible()).toBe(true);
});

test('tokens are listed on first load, and can be created, copied, toggled and deleted after a confirmation', async () => {
  const existing = await server.createToken('existing-before-load');
  const context = await contexts.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await context.newPage();
  const { errors } = watchPage(page);
  await signIn(page, server.baseUrl, { path: '?view=tokens' });
  const rows = page.locator('table.tokens-table tbody tr');
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(1);
  expect(await rows.first().textContent()).toContain('existing-before-load');

  await page.getByLabel('Label').fill('checkout');
  await page.getByRole('button', { name: 'Create token' }).click();
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
  const listed = (await (await server.admin('GET', '/ingest/tokens')).json()).tokens as {
    id: number;
    label: string;
    token: string;
    active: number;
  }[];
  const created = listed.find((t) => t.label === 'checkout');
  expect(created).toBeDefined();

  await page.getByRole('button', { name: 'Copy the token of checkout' }).click();
  await expect
    .poll(() => page.evaluate<string>('navigator.clipboard.readText()'), { timeout: 15_000 })
    .toBe(created?.token);

  await page.getByRole('button', { name: 'Deactivate checkout', exact: true }).click();
  await page.getByRole('button', { name: 'Activate checkout', exact: true }).waitFor();
  const row = page.locator(`tr[data-token-id="${created?.id}"]`);
  expect(await row.textContent()).toContain('Inactive');
  const afterToggle = (await (await server.admin('GET', '/ingest/tokens')).json()).tokens;
  expect(afterToggle.find((t: { id: number }) => t.id === created?.id).active).toBe(0);
  await page.getByRole('button', { name: 'Activate checkout', exact: true }).click();
  await page.getByRole('button', { name: 'Deactivate checkout', exact: true }).waitFor();

  await page.getByRole('button', { name: 'Delete checkout' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete tracking token?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  expect(await rows.count()).toBe(2);
  await page.getByRole('button', { name: 'Delete checkout' }).click();
  await dialog.getByRole('button', { name: 'Delete token' }).click();
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(1);
  const remaining = (await (await server.admin('GET', '/ingest/tokens')).json()).tokens;
  expect(remaining.map((t: { id: number }) => t.id)).toEqual([existing.id]);
  expect(errors).toEqual([]);
});

test('the snippet dialog shows a snippet for the token in each language and Escape closes it', async () => {
  const token = await server.createToken('snippets');
  const page = await contexts.newPage();
  await signIn(page, server.baseUrl, { path: '?view=tokens' });
  await page.getByRole('button', { name: 'Snippet for snippets' }).click();
  const dialog = page.getByRole('dialog');
  const code = dialog.getByLabel('Snippet code');
  expect(await code.inputValue()).toContain(`TRACKING_TOKEN = "${token.token}"`);
  await dialog.getByRole('tab', { name: 'TypeScript (openai SDK)' }).click();
  await expect.poll(() => code.inputValue()).toContain("import OpenAI from 'openai'");
  await dialog.getByRole('tab', { name: 'TypeScript (openai SDK)' }).press('ArrowRight');
  await expect.poll(() => code.inputValue()).toContain('curl');
  expect(await code.inputValue()).toContain(`${server.baseUrl}/ingest`);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
});
