import { build } from 'vite';

/**
 * Vitest global setup: builds the dashboard into dist/web once per run, so the browser tests drive
 * the same files `npm run build` ships (a clean clone has no dist/ yet).
 */
export default async function setup(): Promise<void> {
  await build({
    configFile: new URL('../../web/vite.config.ts', import.meta.url).pathname,
    logLevel: 'warn',
  });
}
