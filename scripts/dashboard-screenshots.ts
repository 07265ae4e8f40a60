/**
 * Screenshots of the dashboard for the README: the main views in light and dark, and at phone
 * width, on demo data. Run after a build: `npx tsx scripts/dashboard-screenshots.ts`.
 * Writes docs/screenshots/*.png.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { seedDemo } from '../bench/dashboard-demo.js';
import { launchBrowser, serve, signIn } from '../test/e2e/harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}docs/screenshots`;
mkdirSync(out, { recursive: true });
await build({ configFile: `${root}web/vite.config.ts`, logLevel: 'warn' });

const server = await serve();
await seedDemo(server);
const browser = await launchBrowser();
try {
  for (const scheme of ['light', 'dark'] as const) {
    for (const device of ['desktop', 'phone'] as const) {
      const viewport = device === 'phone' ? { width: 390, height: 844 } : { width: 1280, height: 860 };
      const context = await browser.newContext({
        viewport,
        colorScheme: scheme,
        deviceScaleFactor: device === 'phone' ? 2 : 1,
        isMobile: device === 'phone',
        hasTouch: device === 'phone',
      });
      const page = await context.newPage();
      const suffix = `${scheme}${device === 'phone' ? '-phone' : ''}`;
      await page.goto(`${server.baseUrl}/dashboard`);
      await page.getByLabel('Admin key').waitFor();
      await page.screenshot({ path: `${out}/sign-in-${suffix}.png` });
      await signIn(page, server.baseUrl);
      for (const view of ['overview', 'usage', 'tokens']) {
        await page.goto(`${server.baseUrl}/dashboard?view=${view}`);
        await page.waitForLoadState('networkidle');
        await page.waitForTimeout(300);
        await page.screenshot({
          path: `${out}/${view}-${suffix}.png`,
          fullPage: device === 'desktop' && view !== 'usage',
        });
      }
      await context.close();
    }
  }
} finally {
  // The store's read worker is unref'd; keep the loop alive until it has exited.
  const keepAlive = setInterval(() => {}, 1000);
  await browser.close();
  await server.close();
  clearInterval(keepAlive);
}
console.log(`screenshots written to ${out}`);
