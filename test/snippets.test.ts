import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { curlSnippet, pythonSnippet, typescriptSnippet } from '../web/src/snippets.js';
import { type Served, serve } from './e2e/harness.js';
import { INGEST_KEY } from './helpers.js';
import { VENV_PYTHON } from './setup/python-env.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The project's Python environment (test/requirements.txt): openai and the cost_guardian client. */

/** A fake OpenAI API over real HTTP: a chat completion in the shape the API returns, with a fresh id. */
function startFakeOpenAi(): Promise<{ server: Server; baseUrl: string; ids: string[] }> {
  const ids: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ error: { message: `no route ${request.url}`, type: 'invalid_request_error' } }),
        );
        return;
      }
      const sent = JSON.parse(body) as { model: string };
      const id = `chatcmpl-${randomBytes(12).toString('base64url')}`;
      ids.push(id);
      response.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_${ids.length}` });
      response.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: `${sent.model}-2024-07-18`,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Hello!', refusal: null, annotations: [] },
              logprobs: null,
              finish_reason: 'stop',
            },
          ],
          usage: {
            prompt_tokens: 1200,
            completion_tokens: 40,
            total_tokens: 1240,
            prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
            completion_tokens_details: {
              reasoning_tokens: 0,
              audio_tokens: 0,
              accepted_prediction_tokens: 0,
              rejected_prediction_tokens: 0,
            },
          },
          service_tier: 'default',
          system_fingerprint: 'fp_test',
        }),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, ids }),
    ),
  );
}

let guardian: Served;
let openai: Awaited<ReturnType<typeof startFakeOpenAi>>;
let work: string;
beforeAll(async () => {
  guardian = await serve();
  openai = await startFakeOpenAi();
  // Inside the package, so that the TypeScript snippet resolves the `openai` devDependency.
  mkdirSync(path.join(ROOT, 'node_modules/.cache'), { recursive: true });
  work = mkdtempSync(path.join(ROOT, 'node_modules/.cache/snippet-'));
});
afterAll(async () => {
  await guardian.close();
  await new Promise((resolve) => openai.server.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({
  ...process.env,
  OPENAI_BASE_URL: openai.baseUrl,
  OPENAI_API_KEY: 'sk-test-not-a-real-key',
  CG_INGEST_KEY: INGEST_KEY,
});

async function rowsOf(tokenId: number) {
  const response = await guardian.admin('GET', `/data?ingest_token_id=${tokenId}`);
  return response.json().data as {
    eventId: string;
    model: string;
    promptTokens: number;
    cachedTokens: number;
  }[];
}

test('the Python snippet, run with the openai SDK and the wrapper, records the call with the response id as event_id', async () => {
  const token = await guardian.createToken('python-snippet');
  const file = path.join(work, 'snippet.py');
  writeFileSync(file, pythonSnippet({ baseUrl: guardian.baseUrl, token: token.token }));
  const { stdout, stderr } = await run(VENV_PYTHON, [file], { env: env(), timeout: 60_000 });
  expect(stdout.trim()).toBe('Hello!');
  expect(stderr).not.toContain('cost-guardian');
  const rows = await rowsOf(token.id);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({
    eventId: openai.ids.at(-1),
    model: 'gpt-4o-mini-2024-07-18',
    promptTokens: 1200,
    cachedTokens: 1024,
  });
});

test('the Python snippet logs, and does not raise, when Cost Guardian refuses the record', async () => {
  const file = path.join(work, 'snippet-bad-token.py');
  writeFileSync(file, pythonSnippet({ baseUrl: guardian.baseUrl, token: 'tok_unknown_token_value' }));
  const { stdout, stderr } = await run(VENV_PYTHON, [file], { env: env(), timeout: 60_000 });
  expect(stdout.trim()).toBe('Hello!');
  expect(stderr).toMatch(/cost-guardian: 1 record\(s\) refused \(unknown_token\): Unknown tracking token/);
});

test('the TypeScript snippet, run with the openai SDK and the built @cost-guardian/client, records the call with the response id as event_id', async () => {
  const token = await guardian.createToken('ts-snippet');
  const file = path.join(work, 'snippet.mts');
  writeFileSync(file, typescriptSnippet({ baseUrl: guardian.baseUrl, token: token.token }));
  const { stdout, stderr } = await run(path.join(ROOT, 'node_modules/.bin/tsx'), [file], {
    env: env(),
    timeout: 60_000,
  });
  expect(stdout.trim()).toBe('Hello!');
  expect(stderr).not.toContain('cost-guardian');
  const rows = await rowsOf(token.id);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({
    eventId: openai.ids.at(-1),
    model: 'gpt-4o-mini-2024-07-18',
    cachedTokens: 1024,
  });
});

test('the cURL snippet records a row, and sending it twice stores it once', async () => {
  const token = await guardian.createToken('curl-snippet');
  const script = curlSnippet({ baseUrl: guardian.baseUrl, token: token.token });
  for (let i = 0; i < 2; i += 1) await run('bash', ['-c', script], { env: env(), timeout: 30_000 });
  const rows = await rowsOf(token.id);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ eventId: 'chatcmpl-123', model: 'gpt-4o-mini', promptTokens: 100 });
});
