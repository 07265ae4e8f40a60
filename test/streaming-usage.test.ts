import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

/**
 * Issue 17.13: the README's streaming example, run with the openai Python SDK against a fake
 * OpenAI API that streams as the real one does (server-sent events; with
 * stream_options.include_usage a last chunk with empty choices carries the usage), records the
 * call once, with its usage.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = existsSync(path.join(ROOT, '.venv/bin/python'))
  ? path.join(ROOT, '.venv/bin/python')
  : 'python3';
const STREAM_ID = 'chatcmpl-stream0123456789';

function chunk(fields: object): string {
  return `data: ${JSON.stringify({
    id: STREAM_ID,
    object: 'chat.completion.chunk',
    created: 1_764_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    system_fingerprint: 'fp_test',
    ...fields,
  })}\n\n`;
}

/** A fake OpenAI chat completions API over real HTTP that answers stream=true as OpenAI does. */
function startFakeOpenAi(): Promise<{ server: Server; baseUrl: string }> {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (part) => {
      body += part;
    });
    request.on('end', () => {
      const sent = JSON.parse(body) as { stream?: boolean; stream_options?: { include_usage?: boolean } };
      if (request.url !== '/v1/chat/completions' || sent.stream !== true) {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ error: { message: 'this fake only streams', type: 'invalid_request_error' } }),
        );
        return;
      }
      const includeUsage = sent.stream_options?.include_usage === true;
      // With include_usage every chunk has "usage": null, except the last, which has it.
      const usageNull = includeUsage ? { usage: null } : {};
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(
        chunk({
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
          ...usageNull,
        }),
      );
      response.write(
        chunk({ choices: [{ index: 0, delta: { content: 'Hello' }, finish_reason: null }], ...usageNull }),
      );
      response.write(
        chunk({ choices: [{ index: 0, delta: { content: '!' }, finish_reason: null }], ...usageNull }),
      );
      response.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], ...usageNull }));
      if (includeUsage) {
        response.write(
          chunk({
            choices: [],
            usage: {
              prompt_tokens: 900,
              completion_tokens: 12,
              total_tokens: 912,
              prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
              completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
            },
          }),
        );
      }
      response.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` }),
    ),
  );
}

/** The README's Python code blocks, in order. */
/** The README's tracker snippet and its streaming example, found by what they hold, not by position. */
function readmePython(): [string | undefined, string | undefined] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  return [
    blocks.find((block) => block.includes('def track_openai_usage(')),
    blocks.find((block) => block.includes('stream=True')),
  ];
}

let ctx: TestContext;
let guardian: string;
let openai: Awaited<ReturnType<typeof startFakeOpenAi>>;
let work: string;
beforeAll(async () => {
  ctx = await createTestApp();
  guardian = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  openai = await startFakeOpenAi();
  work = mkdtempSync(path.join(tmpdir(), 'cg-stream-'));
});
afterAll(async () => {
  await ctx.close();
  await new Promise((resolve) => openai.server.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

test("the README's streaming example records the streamed call once, with the usage of its last chunk", async () => {
  const [tracker, streaming] = readmePython();
  expect(tracker).toContain('def track_openai_usage(response, tracking_token):');
  expect(streaming).toContain('stream_options={"include_usage": True}');
  const token = await ctx.createToken('streaming');
  const script = [
    (tracker ?? '').replace('http://localhost:5001', guardian).replace('your_ingest_key_here', INGEST_KEY),
    'from openai import OpenAI',
    'client = OpenAI()',
    `tracking_token = ${JSON.stringify(token.token)}`,
    streaming,
  ].join('\n');
  const file = path.join(work, 'streaming.py');
  writeFileSync(file, script);
  const { stdout } = await run(PYTHON, [file], {
    env: { ...process.env, OPENAI_BASE_URL: openai.baseUrl, OPENAI_API_KEY: 'sk-test-not-a-real-key' },
    timeout: 60_000,
  });
  expect(stdout).toBe('Hello!');
  const rows = (await ctx.admin('GET', `/data?ingest_token_id=${token.id}`)).json().data;
  expect(rows).toEqual([
    expect.objectContaining({
      eventId: STREAM_ID,
      model: 'gpt-4o-mini-2024-07-18',
      promptTokens: 900,
      completionTokens: 12,
    }),
  ]);
});
