import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Served, serve } from './e2e/harness.js';
import { batchOutputFile, type FakeOpenAi, startFakeOpenAi } from './fake-openai.js';
import { ADMIN_KEY, INGEST_KEY } from './helpers.js';

/**
 * Runs the Python client's own tests (clients/python/tests, pytest) against the real service and
 * the fake OpenAI API started here, with the project's Python environment (.venv, from
 * test/requirements.txt).
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = path.join(ROOT, '.venv/bin/python');

let guardian: Served;
let fake: FakeOpenAi;
beforeAll(async () => {
  guardian = await serve();
  fake = await startFakeOpenAi();
  fake.files.set('file-py-batch', batchOutputFile(['chatcmpl-py-b1', 'chatcmpl-py-b2']));
});
afterAll(async () => {
  await guardian.close();
  await fake.close();
});

test('the Python client passes its tests against the openai package, the fake OpenAI API and the service', async () => {
  expect(
    existsSync(PYTHON),
    'no .venv: python3 -m venv .venv && .venv/bin/pip install -r test/requirements.txt',
  ).toBe(true);
  const result = await run(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'clients/python/tests'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      CG_URL: guardian.baseUrl,
      CG_INGEST_KEY: INGEST_KEY,
      CG_ADMIN_KEY: ADMIN_KEY,
      OPENAI_BASE_URL: fake.baseUrl,
    },
    timeout: 240_000,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => ({
    stdout: `${error.stdout ?? ''}\n${error.stderr ?? ''}\n${error.message}`,
    failed: true,
  }));
  expect('failed' in result ? result.stdout : '', result.stdout).toBe('');
  expect(result.stdout).toMatch(/\d+ passed/);
}, 300_000);
