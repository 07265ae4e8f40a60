import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { INGEST_KEY } from '../helpers.js';
import { ingestBatch, launchBrowser, type Served, serve, signIn, usageRecord, watchPage } from './harness.js';

/**
 * Issue 17.3: a refused ingest record is usage that is lost, and must be loud: the dashboard warns
 * on every view, naming how many records were refused in the last hour and why.
 */

let browser: Browser;
let server: Served | undefined;
let page: Page | undefined;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser.close();
});
afterEach(async () => {
  await page?.close();
  page = undefined;
  await server?.close();
  server = undefined;
});

const banner = (p: Page) => p.getByRole('status', { name: 'Refused usage records' });

async function sendBatch(s: Served, records: unknown[]) {
  return s.app.inject({
    method: 'POST',
    url: '/ingest/batch',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: { records },
  });
}

test('no warning while nothing is refused; a batch the rate limit refuses shows one live, naming the count and the token, on every view', async () => {
  server = await serve({ INGEST_RPM: '1', INGEST_BURST: '2' });
  const s = server;
  const token = await s.createToken('Checkout service');
  await ingestBatch(s, [usageRecord(token.token, 'gpt-4o-mini', 5), usageRecord(token.token, 'gpt-4o', 6)]);

  page = await browser.newPage();
  const p = page;
  const { errors } = watchPage(p);
  const metricsRead = p.waitForResponse((r) => new URL(r.url()).pathname === '/metrics', { timeout: 15_000 });
  await signIn(p, s.baseUrl);
  expect((await metricsRead).status()).toBe(200);
  await p.getByRole('heading', { name: 'Top models' }).waitFor({ timeout: 15_000 });
  expect(await banner(p).count()).toBe(0);

  // The bucket is spent: these are refused (all of them, unless a minute refilled one).
  const response = await sendBatch(
    s,
    [1, 2, 3].map((i) => usageRecord(token.token, 'gpt-4o-mini', i)),
  );
  const refused = response.statusCode === 429 ? 3 : (response.json() as { rejected: number }).rejected;
  expect(refused).toBeGreaterThan(0);

  // The live stream's `refused` event brings it in without a reload (at most one live refresh later).
  await expect
    .poll(() => banner(p).textContent(), { timeout: 30_000 })
    .toContain(`${refused} records were refused by the ingest rate limit in the last hour`);
  const text = (await banner(p).textContent()) ?? '';
  expect(text).toMatch(/\(last at \d{1,2}:\d{2}.*, token “Checkout service”\)/);
  expect(text).toContain('Those calls are not counted');
  expect(text).toContain('INGEST_RPM');
  expect(text).toContain('1 record a minute per tracking token, in bursts of up to 2');
  expect(text).not.toContain('in the last hour:');

  for (const view of ['Usage', 'Tokens', 'Overview']) {
    const link = p.getByRole('link', { name: view });
    await link.click();
    await expect.poll(() => link.getAttribute('aria-current'), { timeout: 15_000 }).toBe('page');
    expect(await banner(p).textContent()).toContain(`${refused} records were refused`);
  }
  expect(errors).toEqual([]);
}, 90_000);

test('records refused for other reasons are counted by reason in the warning, on load', async () => {
  server = await serve();
  const s = server;
  const live = await s.createToken('live-service');
  const old = await s.createToken('old-service');
  await s.admin('PATCH', `/ingest/tokens/${old.id}/active`, { active: false });
  const response = await sendBatch(s, [
    usageRecord(live.token, 'gpt-4o-mini', 1),
    usageRecord(live.token, 'gpt-4o-mini', 2, { prompt_tokens: -5 }),
    usageRecord('no-such-token-0123456789', 'gpt-4o-mini', 3),
    usageRecord(old.token, 'gpt-4o-mini', 4),
    usageRecord(old.token, 'gpt-4o-mini', 5),
  ]);
  expect(response.json()).toMatchObject({ created: 1, rejected: 4 });

  page = await browser.newPage();
  const p = page;
  await signIn(p, s.baseUrl, { path: '?view=usage' });
  await expect
    .poll(() => banner(p).textContent(), { timeout: 15_000 })
    .toContain(
      '4 records were refused in the last hour: 1 invalid, 1 with an unknown tracking token, 2 with a deactivated tracking token.',
    );
  const text = (await banner(p).textContent()) ?? '';
  expect(text).toContain('Those calls are not counted either');
  expect(text).not.toContain('rate limit');
}, 60_000);
