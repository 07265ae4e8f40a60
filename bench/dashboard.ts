/**
 * Dashboard page weight and time to first render.
 *
 *   npx tsx bench/dashboard.ts               # 15 loads per view
 *   npx tsx bench/dashboard.ts --runs 30
 *
 * Weight: the built files (dist/web, rebuilt first) raw, gzip -9 and brotli -11, which are the
 * bytes the service sends (it serves the precompressed files). Time: Debian's Chromium loads
 * /dashboard?view=... from the real service (3,000 demo rows) over loopback with the session
 * cookie already set, each load in a fresh page with the HTTP cache disabled (a first visit).
 * Reported from the Performance API: first contentful paint, and "data rendered" = the moment the
 * view's data is in the DOM (first table row, or the overview's chart canvas; noted by a
 * MutationObserver inside the page), both from navigation start. The page bytes on the wire are
 * the HTML, JS and CSS responses (headers + bodies) as Chromium received them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'vite';
import { launchBrowser, serve, signIn } from '../test/e2e/harness.js';
import { seedDemo } from './dashboard-demo.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 15) || 15;

await build({ configFile: `${root}web/vite.config.ts`, logLevel: 'warn' });

const webRoot = path.join(root, 'dist/web');
const files = [
  'index.html',
  ...readdirSync(path.join(webRoot, 'assets'))
    .filter((f) => /\.(js|css)$/.test(f))
    .map((f) => `assets/${f}`),
];
let total = { raw: 0, gzip: 0, brotli: 0 };
console.log('\nPage weight (dist/web)\n');
console.log('| file | raw bytes | gzip -9 | brotli -11 |\n| --- | ---: | ---: | ---: |');
for (const file of files) {
  const content = readFileSync(path.join(webRoot, file));
  const sizes = {
    raw: statSync(path.join(webRoot, file)).size,
    gzip: gzipSync(content, { level: 9 }).length,
    brotli: brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
  total = { raw: total.raw + sizes.raw, gzip: total.gzip + sizes.gzip, brotli: total.brotli + sizes.brotli };
  console.log(`| ${file.replace(/-[\w-]{8}\./, '.')} | ${sizes.raw} | ${sizes.gzip} | ${sizes.brotli} |`);
}
console.log(`| **total** | ${total.raw} | ${total.gzip} | ${total.brotli} |`);

const server = await serve();
await seedDemo(server);
const browser = await launchBrowser();
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const first = await context.newPage();
await signIn(first, server.baseUrl);
await first.close();

const views = [
  { view: 'usage', ready: 'table.usage-table tbody tr td' },
  { view: 'tokens', ready: 'table.tokens-table tbody tr' },
  { view: 'overview', ready: '.chart canvas' },
];
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};
console.log(`\nTime to first render, ${runs} cold loads per view (ms from navigation start)\n`);
console.log(
  '| view | FCP median | FCP min–max | data rendered median | data rendered min–max | page bytes on the wire |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const { view, ready } of views) {
  const fcp: number[] = [];
  const rendered: number[] = [];
  let transferred = 0;
  for (let i = 0; i < runs; i += 1) {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    // Marks the first moment the view's data is in the DOM, from inside the page.
    await page.addInitScript(`(() => {
      const check = () => {
        if (window.__dataRenderedAt === undefined && document.querySelector(${JSON.stringify(ready)})) {
          window.__dataRenderedAt = performance.now();
        }
      };
      new MutationObserver(check).observe(document, { childList: true, subtree: true });
    })()`);
    await cdp.send('Network.enable');
    const urls = new Map<string, string>();
    let wire = 0;
    cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
    cdp.on('Network.loadingFinished', (e) => {
      if (new URL(urls.get(e.requestId) ?? 'http://x/').pathname.startsWith('/dashboard'))
        wire += e.encodedDataLength;
    });
    await page.goto(`${server.baseUrl}/dashboard?view=${view}`);
    await page.locator(ready).first().waitFor();
    await page.waitForLoadState('load');
    const timing = await page.evaluate<{ fcp: number; now: number }>(`(() => {
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return { fcp: paint ? paint.startTime : NaN, now: window.__dataRenderedAt };
    })()`);
    transferred = wire;
    if (Number.isFinite(timing.fcp)) fcp.push(timing.fcp);
    rendered.push(timing.now);
    await page.close();
  }
  const f = (n: number) => n.toFixed(0);
  // Chromium occasionally records no paint entry for a load on a busy machine: such loads are left out of FCP.
  if (fcp.length < runs)
    console.error(`${view}: ${runs - fcp.length} load(s) without a first-contentful-paint entry`);
  console.log(
    `| ${view} | ${f(quantile(fcp, 0.5))} | ${f(Math.min(...fcp))}–${f(Math.max(...fcp))} | ${f(quantile(rendered, 0.5))} | ${f(Math.min(...rendered))}–${f(Math.max(...rendered))} | ${transferred} |`,
  );
}
console.log(
  `\nMachine: ${cpus().length}× ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
);

const keepAlive = setInterval(() => {}, 1000);
await browser.close();
await server.close();
clearInterval(keepAlive);
