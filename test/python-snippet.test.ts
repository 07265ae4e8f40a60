import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, INGEST_KEY, type TestContext } from './helpers.js';
import { VENV_PYTHON } from './setup/python-env.js';

const run = promisify(execFile);

let ctx: TestContext;
let baseUrl: string;
beforeAll(async () => {
  ctx = await createTestApp();
  baseUrl = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await ctx.close();
});

/**
 * The client snippet from the original README, verbatim except for the URL, the keys and the
 * stand-in for an OpenAI SDK response (an object with .model and .usage, like the SDK's).
 */
const ORIGINAL_SNIPPET = `
import requests
import json

def track_openai_usage(response, tracking_token="your_token_here"):
    """Track OpenAI API usage after each request"""
    usage = response.usage

    usage_data = {
        "tracking_token": tracking_token,
        "model": response.model,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens
    }

    try:
        r = requests.post(
            "BASE_URL/ingest",
            headers={"X-Ingest-Key": "INGEST_KEY"},
            json=usage_data,
            timeout=5
        )
        print(r.status_code, r.text)
    except Exception as e:
        print(f"Usage tracking failed: {e}")

class Usage:
    prompt_tokens = 1000
    completion_tokens = 500
    total_tokens = 1500

class Response:
    model = "gpt-4o-mini-2024-07-18"
    usage = Usage()

track_openai_usage(Response(), "TRACKING_TOKEN")
`;

test("the original README's Python snippet (requests) still records usage", async () => {
  const { token } = await ctx.createToken('python-client');
  const script = ORIGINAL_SNIPPET.replace('BASE_URL', baseUrl)
    .replace('INGEST_KEY', INGEST_KEY)
    .replace('TRACKING_TOKEN', token);
  const { stdout } = await run(VENV_PYTHON, ['-c', script], { timeout: 20_000 });
  // The original's fields come first and unchanged; budget verdicts follow (an empty list here).
  expect(stdout).toMatch(
    /^201 \{"ok":true,"id":\d+,"cost_usd":0\.00045,"pricing_status":"priced","budgets":\[\]\}/,
  );
  const [row] = (await ctx.admin('GET', '/data')).json().data;
  expect(row).toMatchObject({
    model: 'gpt-4o-mini-2024-07-18',
    promptTokens: 1000,
    completionTokens: 500,
    totalTokens: 1500,
    estimatedCostUSD: 0.00045,
    tokenLabel: 'python-client',
  });
});
