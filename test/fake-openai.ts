import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OpenAI API (and Anthropic's POST /v1/messages) over real HTTP and SSE, with the bodies the API returns (usage with cached and
 * reasoning tokens, streams whose usage chunk comes last when asked for, Responses API events,
 * embeddings, a Batch API output file). Deterministic: the same request with the same
 * `x-fake-id` header gets the same bytes, so a wrapped and an unwrapped call can be compared.
 * `x-fake-scenario`: `cut-before-usage` ends a stream's connection before its usage chunk;
 * `rate-limited` answers 429 like the API does.
 */

export const CREATED = 1_765_000_000;

/** The model a request names -> the snapshot the API reports, with the usage it bills. */
export const MODELS: Record<string, { snapshot: string; usage: ChatUsage }> = {
  'gpt-4o-mini': {
    snapshot: 'gpt-4o-mini-2024-07-18',
    usage: { prompt: 1200, cached: 1024, completion: 40, reasoning: 0 },
  },
  'o4-mini': {
    snapshot: 'o4-mini-2025-04-16',
    usage: { prompt: 2000, cached: 1536, completion: 900, reasoning: 768 },
  },
  'gpt-4.1-mini': {
    snapshot: 'gpt-4.1-mini-2025-04-14',
    usage: { prompt: 3000, cached: 2048, completion: 120, reasoning: 0 },
  },
  'text-embedding-3-small': {
    snapshot: 'text-embedding-3-small',
    usage: { prompt: 24, cached: 0, completion: 0, reasoning: 0 },
  },
};

interface ChatUsage {
  prompt: number;
  cached: number;
  completion: number;
  reasoning: number;
}

export function chatUsage(u: ChatUsage) {
  return {
    prompt_tokens: u.prompt,
    completion_tokens: u.completion,
    total_tokens: u.prompt + u.completion,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export function responsesUsage(u: ChatUsage) {
  return {
    input_tokens: u.prompt,
    input_tokens_details: { cached_tokens: u.cached },
    output_tokens: u.completion,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: u.prompt + u.completion,
  };
}

const WORDS = ['Hello', '!', ' How', ' can', ' I', ' help', '?'];

export interface FakeOpenAi {
  /** For the openai SDK (`baseURL`). */
  baseUrl: string;
  /** For the Anthropic SDK, which adds /v1 itself. */
  origin: string;
  /** Every request received: method, path, parsed body. */
  requests: { method: string; path: string; body: Record<string, unknown> | undefined }[];
  /** Batch output files served by GET /v1/files/:id/content. */
  files: Map<string, string>;
  close(): Promise<void>;
}

function model(name: unknown) {
  const known = MODELS[String(name)];
  if (!known) throw new Error(`fake OpenAI: unknown model ${String(name)}`);
  return known;
}

function requestId(id: string): string {
  return `req_${createHash('sha256').update(id).digest('hex').slice(0, 24)}`;
}

export function chatCompletion(id: string, name: string, serviceTier = 'default') {
  const m = model(name);
  return {
    id,
    object: 'chat.completion',
    created: CREATED,
    model: m.snapshot,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: WORDS.join(''), refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: chatUsage(m.usage),
    service_tier: serviceTier,
    system_fingerprint: 'fp_560af6e559',
  };
}

function responseObject(id: string, name: string, status: 'in_progress' | 'completed') {
  const m = model(name);
  const done = status === 'completed';
  return {
    id,
    object: 'response',
    created_at: CREATED,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model: m.snapshot,
    output: done
      ? [
          {
            id: `msg_${id.slice(5)}`,
            type: 'message',
            status: 'completed',
            content: [{ type: 'output_text', annotations: [], logprobs: [], text: WORDS.join('') }],
            role: 'assistant',
          },
        ]
      : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: true,
    temperature: 1.0,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: [],
    top_p: 1.0,
    truncation: 'disabled',
    usage: done ? responsesUsage(m.usage) : null,
    user: null,
    metadata: {},
  };
}

function embeddingVector(seed: string, dimensions: number): number[] {
  const bytes = createHash('sha512').update(seed).digest();
  return Array.from({ length: dimensions }, (_, i) => ((bytes[i % bytes.length] ?? 0) - 128) / 1024);
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function sse(response: ServerResponse, id: string) {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'x-request-id': requestId(id),
  });
  return {
    data(payload: unknown, event?: string) {
      response.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(payload)}\n\n`);
    },
    done() {
      response.write('data: [DONE]\n\n');
      response.end();
    },
    /** Ends the connection abruptly, once what was written has left (an SSE comment, ignored). */
    cut() {
      response.write(': connection lost\n\n', () => response.socket?.destroy());
    },
  };
}

function streamChat(response: ServerResponse, id: string, body: Record<string, unknown>, scenario: string) {
  const m = model(body.model);
  const includeUsage =
    (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const out = sse(response, id);
  const chunk = (delta: object, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: m.snapshot,
    service_tier: 'default',
    system_fingerprint: 'fp_560af6e559',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
    obfuscation: 'Xa3',
  });
  out.data(chunk({ role: 'assistant', content: '', refusal: null }, null));
  for (const word of WORDS) out.data(chunk({ content: word }, null));
  out.data(chunk({}, 'stop'));
  if (scenario === 'cut-before-usage') return out.cut();
  if (includeUsage) {
    out.data({
      id,
      object: 'chat.completion.chunk',
      created: CREATED,
      model: m.snapshot,
      service_tier: 'default',
      system_fingerprint: 'fp_560af6e559',
      choices: [],
      usage: chatUsage(m.usage),
      obfuscation: 'kP',
    });
  }
  out.done();
}

function streamResponse(
  response: ServerResponse,
  id: string,
  body: Record<string, unknown>,
  scenario: string,
) {
  const out = sse(response, id);
  let sequence = 0;
  const event = (type: string, fields: object) =>
    out.data({ type, sequence_number: sequence++, ...fields }, type);
  const pending = responseObject(id, String(body.model), 'in_progress');
  event('response.created', { response: pending });
  event('response.in_progress', { response: pending });
  const itemId = `msg_${id.slice(5)}`;
  event('response.output_item.added', {
    output_index: 0,
    item: { id: itemId, type: 'message', status: 'in_progress', content: [], role: 'assistant' },
  });
  event('response.content_part.added', {
    item_id: itemId,
    output_index: 0,
    content_index: 0,
    part: { type: 'output_text', annotations: [], logprobs: [], text: '' },
  });
  for (const word of WORDS) {
    event('response.output_text.delta', {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      delta: word,
      logprobs: [],
      obfuscation: 'q1',
    });
  }
  if (scenario === 'cut-before-usage') return out.cut();
  event('response.output_text.done', {
    item_id: itemId,
    output_index: 0,
    content_index: 0,
    text: WORDS.join(''),
    logprobs: [],
  });
  event('response.completed', { response: responseObject(id, String(body.model), 'completed') });
  response.end();
}

/** An Anthropic Messages API answer: cache reads and writes, the service tier inside usage. */
export const ANTHROPIC_MODEL = 'claude-3-5-haiku-20241022';
export function anthropicUsage(outputTokens = 120) {
  return {
    input_tokens: 50,
    cache_creation_input_tokens: 2000,
    cache_read_input_tokens: 8000,
    cache_creation: { ephemeral_5m_input_tokens: 2000, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

function anthropicMessage(id: string, done: boolean) {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: ANTHROPIC_MODEL,
    content: done ? [{ type: 'text', text: WORDS.join('') }] : [],
    stop_reason: done ? 'end_turn' : null,
    stop_sequence: null,
    usage: anthropicUsage(done ? 120 : 1),
  };
}

function streamAnthropic(response: ServerResponse, id: string, scenario: string) {
  const out = sse(response, id);
  out.data({ type: 'message_start', message: anthropicMessage(id, false) }, 'message_start');
  out.data(
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    'content_block_start',
  );
  for (const word of WORDS) {
    out.data(
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: word } },
      'content_block_delta',
    );
  }
  out.data({ type: 'content_block_stop', index: 0 }, 'content_block_stop');
  if (scenario === 'cut-before-usage') return out.cut();
  out.data(
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 120 },
    },
    'message_delta',
  );
  out.data({ type: 'message_stop' }, 'message_stop');
  response.end();
}

/** One Batch API output file: two chat completions and one failed request. */
export function batchOutputFile(ids: [string, string]): string {
  const line = (n: number, customId: string, body: object | null, status: number, error: object | null) =>
    JSON.stringify({
      id: `batch_req_${n}${ids[0].slice(-6)}`,
      custom_id: customId,
      response: body ? { status_code: status, request_id: requestId(`${customId}${n}`), body } : null,
      error,
    });
  return [
    line(1, 'request-1', chatCompletion(ids[0], 'gpt-4o-mini'), 200, null),
    line(2, 'request-2', chatCompletion(ids[1], 'gpt-4o-mini'), 200, null),
    line(3, 'request-3', null, 0, { code: 'invalid_request', message: 'bad request' }),
  ].join('\n');
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of request) text += chunk;
  return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
}

export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  const requests: FakeOpenAi['requests'] = [];
  const files = new Map<string, string>();
  let counter = 0;
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const path = (request.url ?? '').split('?')[0] ?? '';
      requests.push({ method: request.method ?? '', path, body });
      counter += 1;
      const fakeId = String(request.headers['x-fake-id'] ?? `fake${counter}`);
      const scenario = String(request.headers['x-fake-scenario'] ?? '');
      if (scenario === 'rate-limited') {
        return send(
          response,
          429,
          {
            error: {
              message:
                'Rate limit reached for gpt-4o-mini in organization org-test on requests per min (RPM): Limit 3, Used 3, Requested 1.',
              type: 'requests',
              param: null,
              code: 'rate_limit_exceeded',
            },
          },
          { 'retry-after': '20', 'x-request-id': requestId(fakeId), 'x-should-retry': 'false' },
        );
      }
      if (request.method === 'POST' && path === '/v1/chat/completions' && body) {
        const id = `chatcmpl-${fakeId}`;
        if (body.stream === true) return streamChat(response, id, body, scenario);
        return send(
          response,
          200,
          chatCompletion(id, String(body.model), String(body.service_tier ?? 'default')),
          {
            'x-request-id': requestId(id),
          },
        );
      }
      if (request.method === 'POST' && path === '/v1/messages' && body) {
        const id = `msg_${fakeId}`;
        if (body.stream === true) return streamAnthropic(response, id, scenario);
        return send(response, 200, anthropicMessage(id, true), { 'request-id': requestId(id) });
      }
      if (request.method === 'POST' && path === '/v1/responses' && body) {
        const id = `resp_${fakeId}`;
        if (body.stream === true) return streamResponse(response, id, body, scenario);
        return send(response, 200, responseObject(id, String(body.model), 'completed'), {
          'x-request-id': requestId(id),
        });
      }
      if (request.method === 'POST' && path === '/v1/embeddings' && body) {
        const m = model(body.model);
        const vector = embeddingVector(fakeId, 8);
        const embedding =
          body.encoding_format === 'base64'
            ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
            : vector;
        return send(
          response,
          200,
          {
            object: 'list',
            data: [{ object: 'embedding', index: 0, embedding }],
            model: m.snapshot,
            usage: { prompt_tokens: m.usage.prompt, total_tokens: m.usage.prompt },
          },
          { 'x-request-id': requestId(`embedding-${fakeId}`) },
        );
      }
      const file = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
      if (request.method === 'GET' && file?.[1] && files.has(file[1])) {
        response.writeHead(200, {
          'content-type': 'application/octet-stream',
          'x-request-id': requestId(file[1]),
        });
        return response.end(files.get(file[1]));
      }
      send(response, 404, {
        error: { message: `no route ${request.method} ${path}`, type: 'invalid_request_error' },
      });
    })().catch((error: unknown) => {
      send(response, 500, { error: { message: String(error), type: 'server_error' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    files,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
