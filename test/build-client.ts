import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * Vitest global setup: builds packages/client into its dist/ once per run, so that the snippets
 * and the package test import @cost-guardian/client as an app would (a clean clone has no dist/).
 */
export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  await promisify(execFile)(`${root}node_modules/.bin/tsc`, ['-p', 'packages/client/tsconfig.json'], {
    cwd: root,
  });
}
