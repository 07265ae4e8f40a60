import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { systemClock } from '../../src/lib/clock.js';
import { ADMIN_KEY, createTestApp, INGEST_KEY, type TestContext } from '../helpers.js';
import { chromiumCommand, findExecutable } from '../setup/chromium.js';

/** Debian's Chromium, never a downloaded browser (the browser project's setup installs it). */
export const CHROMIUM = findExecutable(chromiumCommand()) ?? chromiumCommand();
/**
 * How long a Playwright action or wait may take before it fails the test: long enough for a page
 * on a loaded 2-core machine, shorter than the browser tests' 60 s timeout, so a failure reports
 * what it waited for instead of a test timeout.
 */
export const ACTION_TIMEOUT_MS = 20_000;
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** A browser with a profile on disk, so cookies outlive a close and relaunch like a real restart. */
export function launchPersistent(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: ARGS });
}

/**
 * The browser contexts a test opens, all closed by `closeAll()` in afterEach whether the test
 * passed or not. A page left open keeps its EventSource connected, so closing the server after a
 * failed test would otherwise wait out the hook timeout.
 */
export class Contexts {
  private readonly open = new Set<BrowserContext>();

  constructor(private readonly browser: () => Browser) {}

  async newContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
    return this.track(await this.browser().newContext(options));
  }

  /** A page in a context of its own (cookies and storage are not shared with other pages). */
  async newPage(options: BrowserContextOptions = {}): Promise<Page> {
    return (await this.newContext(options)).newPage();
  }

  /** launchPersistent, closed with the others if the test does not close it. */
  async persistent(userDataDir: string): Promise<BrowserContext> {
    return this.track(await launchPersistent(userDataDir));
  }

  async closeAll(): Promise<void> {
    const open = [...this.open];
    this.open.clear();
    await Promise.all(open.map((context) => context.close().catch(() => {})));
  }

  private track(context: BrowserContext): BrowserContext {
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    this.open.add(context);
    context.once('close', () => this.open.delete(context));
    return context;
  }
}

export interface Served extends TestContext {
  baseUrl: string;
}

/** The real app on a real SQLite file and the real clock, listening on an ephemeral loopback port. */
export async function serve(env: Record<string, string> = {}): Promise<Served> {
  const ctx = await createTestApp(env, { clock: systemClock });
  const baseUrl = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  return Object.assign(ctx, { baseUrl });
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Fails the test on any script error or console error other than expected HTTP statuses. */
export function watchPage(page: Page): { errors: string[] } {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('dialog', (dialog) => {
    errors.push(`unexpected dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { errors };
}

export async function signIn(
  page: Page,
  baseUrl: string,
  options: { remember?: boolean; path?: string } = {},
) {
  await page.goto(`${baseUrl}/dashboard${options.path ?? ''}`);
  await page.getByLabel('Admin key').fill(ADMIN_KEY);
  if (options.remember) await page.getByLabel(/Remember me/).check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** A usage record as an app would send it, `minutesAgo` before now. */
export function usageRecord(
  token: string,
  model: string,
  minutesAgo: number,
  extra: Record<string, unknown> = {},
) {
  return {
    tracking_token: token,
    model,
    prompt_tokens: 1000 + minutesAgo,
    completion_tokens: 100,
    timestamp: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    ...extra,
  };
}

/** POST /ingest/batch with the ingest key; every record must be created. */
export async function ingestBatch(server: Served, records: unknown[]): Promise<void> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/ingest/batch',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: { records },
  });
  const body = response.json() as { created?: number };
  if (response.statusCode !== 200 || body.created !== records.length) {
    throw new Error(`ingest failed: ${response.statusCode} ${response.body.slice(0, 500)}`);
  }
}
