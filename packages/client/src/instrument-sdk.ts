import { type Attribution, currentAttribution, merge } from './attribution.js';
import type { CostGuardian } from './cost-guardian.js';
import {
  isObject,
  type Observation,
  observeBatchLine,
  observeResponse,
  type UsageApi,
} from './observation.js';

/**
 * Instruments an OpenAI SDK client (openai v5 and later), or an Anthropic one (@anthropic-ai/sdk,
 * the same generated design: the same request method, APIPromise and Stream). Every request of the SDK goes through
 * `client.request(options)`, which returns an APIPromise; the wrapper replaces that one method on a
 * copy of the client (`withOptions({})`, so the caller's client is left as it was) and adds a
 * transform with `APIPromise._thenUnwrap`, the hook the SDK's own resources use. So helpers built
 * on create() (`chat.completions.stream()`, `parse()`, `responses.stream()`) are tracked too, and
 * the caller still gets an APIPromise (`withResponse()` works).
 *
 * The transform runs only when the caller reads the parsed result, after the provider answered: a
 * call that throws records nothing. `asResponse()` returns the raw HTTP response and is not
 * tracked.
 */

interface RequestOptionsLike {
  method?: string;
  path?: string;
  body?: unknown;
  stream?: boolean;
}

interface ResponsePropsLike {
  response?: { headers?: { get(name: string): string | null } };
}

interface APIPromiseLike {
  _thenUnwrap(transform: (data: unknown, props: ResponsePropsLike) => unknown): unknown;
}

interface OpenAILike {
  withOptions(options: object): OpenAILike;
  request(options: unknown, remainingRetries?: unknown): unknown;
}

interface StreamLike extends AsyncIterable<unknown> {
  controller: AbortController;
}
type StreamConstructor = new (
  iterator: () => AsyncIterator<unknown>,
  controller: AbortController,
  client?: unknown,
) => unknown;

type Plan =
  | { kind: 'call'; api: UsageApi; stream: boolean; injectedUsage: boolean; attribution: Attribution }
  | { kind: 'file'; attribution: Attribution };

const CHAT = /(^|\/)chat\/completions$/;
const COMPLETIONS = /(^|\/)completions$/;
const RESPONSES = /(^|\/)responses$/;
const EMBEDDINGS = /(^|\/)embeddings$/;
const FILE_CONTENT = /(^|\/)files\/[^/]+\/content$/;
const ANTHROPIC_MESSAGES = /(^|\/)v1\/messages$/;

export type Sdk = 'openai' | 'anthropic';

/**
 * Decides whether a request is tracked, and for a streamed Chat Completions or Completions call
 * the caller did not ask usage of, asks for it (`stream_options.include_usage`), without touching
 * the caller's params object.
 */
function plan(
  sdk: Sdk,
  options: RequestOptionsLike,
  attribution: Attribution,
): { plan?: Plan; options: RequestOptionsLike } {
  const method = options.method?.toLowerCase();
  const path = options.path ?? '';
  const body = isObject(options.body) ? options.body : undefined;
  const stream = options.stream === true || body?.stream === true;
  if (sdk === 'anthropic') {
    if (method !== 'post' || !ANTHROPIC_MESSAGES.test(path)) return { options };
    return { plan: { kind: 'call', api: 'anthropic', stream, injectedUsage: false, attribution }, options };
  }
  if (method === 'get' && FILE_CONTENT.test(path)) return { plan: { kind: 'file', attribution }, options };
  if (method !== 'post') return { options };
  let api: UsageApi;
  if (CHAT.test(path)) api = 'chat';
  else if (COMPLETIONS.test(path)) api = 'completions';
  else if (RESPONSES.test(path)) api = 'responses';
  else if (EMBEDDINGS.test(path)) api = 'embeddings';
  else return { options };
  let injectedUsage = false;
  if (stream && (api === 'chat' || api === 'completions') && body) {
    const streamOptions = isObject(body.stream_options) ? body.stream_options : undefined;
    if (streamOptions?.include_usage !== true) {
      injectedUsage = true;
      options = { ...options, body: { ...body, stream_options: { ...streamOptions, include_usage: true } } };
    }
  }
  return { plan: { kind: 'call', api, stream, injectedUsage, attribution }, options };
}

export function instrumentSdk<T extends object>(
  sdk: Sdk,
  client: T,
  guardian: CostGuardian,
  attribution: Attribution,
): T {
  const source = client as unknown as Partial<OpenAILike>;
  if (typeof source.withOptions !== 'function' || typeof source.request !== 'function') {
    throw new TypeError(
      sdk === 'openai'
        ? 'cost-guardian: wrapOpenAI needs an OpenAI client from the openai package, v5 or later'
        : 'cost-guardian: wrapAnthropic needs an Anthropic client from @anthropic-ai/sdk',
    );
  }
  const copy = source.withOptions({});
  const original = copy.request;
  copy.request = function request(this: OpenAILike, options: unknown, remainingRetries?: unknown) {
    // Captured here, in the caller's async context; a stream may be read from another one.
    const who = merge(attribution, currentAttribution());
    let decided: Plan | undefined;
    const planned = Promise.resolve(options).then((resolved) => {
      const result = plan(sdk, resolved as RequestOptionsLike, who);
      decided = result.plan;
      return result.options;
    });
    const promise = original.call(this, planned, remainingRetries) as Partial<APIPromiseLike> | undefined;
    if (typeof promise?._thenUnwrap !== 'function') return promise;
    return promise._thenUnwrap((data, props) =>
      decided ? observe(guardian, this, decided, data, props) : data,
    );
  };
  return copy as unknown as T;
}

function observe(
  guardian: CostGuardian,
  client: unknown,
  plan: Plan,
  data: unknown,
  props: ResponsePropsLike,
) {
  try {
    if (plan.kind === 'file') {
      readBatchOutput(data, guardian, plan.attribution);
      return data;
    }
    if (plan.stream) return wrapStream(data, guardian, client, plan);
    const observed = observeResponse(data, props.response?.headers?.get('x-request-id') ?? undefined);
    if (observed) guardian.record({ ...observed, api: plan.api }, plan.attribution);
    else guardian.countUntracked();
  } catch {
    guardian.countUntracked();
  }
  return data;
}

const TERMINAL_RESPONSE_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * A new SDK Stream over the provider's: same items, same controller, so `tee()`,
 * `toReadableStream()` and `controller.abort()` behave as unwrapped. For Chat Completions and
 * Completions the usage chunk is recorded, and when the wrapper asked for it, hidden along with
 * the `usage: null` every other chunk then carries. For Responses the final event is recorded.
 */
function wrapStream(data: unknown, guardian: CostGuardian, client: unknown, plan: Plan & { kind: 'call' }) {
  if (!isObject(data) || !(Symbol.asyncIterator in data) || !('controller' in data)) return data;
  const stream = data as unknown as StreamLike;
  const Stream = stream.constructor as StreamConstructor;
  let recorded = false;
  const anthropic = anthropicUsage();
  const record = (observation: Observation | undefined) => {
    if (recorded || !observation) return;
    recorded = true;
    guardian.record({ ...observation, api: plan.api }, plan.attribution);
  };
  async function* iterate(): AsyncGenerator<unknown> {
    try {
      for await (const item of stream) {
        if (!isObject(item)) {
          yield item;
          continue;
        }
        if (plan.api === 'anthropic') {
          anthropic.see(item);
          if (item.type === 'message_stop') record(anthropic.observation());
          yield item;
          continue;
        }
        if (plan.api === 'responses') {
          if (typeof item.type === 'string' && TERMINAL_RESPONSE_EVENTS.has(item.type)) {
            record(observeResponse(item.response));
          }
          yield item;
          continue;
        }
        if (isObject(item.usage)) {
          record(chunkObservation(item));
          if (plan.injectedUsage && Array.isArray(item.choices) && item.choices.length === 0) continue;
        }
        if (plan.injectedUsage) delete item.usage;
        yield item;
      }
    } finally {
      if (!recorded) guardian.countUntracked();
    }
  }
  return new Stream(iterate, stream.controller, client);
}

/**
 * An Anthropic stream's usage: message_start carries the message (id, model, input and cache
 * tokens, service tier), each message_delta the cumulative output tokens (and, from newer API
 * versions, updated input counts); the sum is known at message_stop.
 */
function anthropicUsage() {
  let message: Record<string, unknown> | undefined;
  let usage: Record<string, unknown> = {};
  let hasDelta = false;
  return {
    see(event: Record<string, unknown>) {
      if (event.type === 'message_start' && isObject(event.message)) {
        message = event.message;
        usage = isObject(message.usage) ? { ...message.usage } : {};
      } else if (event.type === 'message_delta' && isObject(event.usage)) {
        hasDelta = true;
        for (const [key, value] of Object.entries(event.usage)) if (value !== null) usage[key] = value;
      }
    },
    observation(): Observation | undefined {
      if (!message || !hasDelta) return undefined;
      return observeResponse({ ...message, usage });
    },
  };
}

function chunkObservation(chunk: Record<string, unknown>): Observation | undefined {
  if (typeof chunk.model !== 'string' || !isObject(chunk.usage)) return undefined;
  return {
    ...(typeof chunk.id === 'string' ? { eventId: chunk.id } : {}),
    model: chunk.model,
    usage: chunk.usage,
    api: chunk.object === 'text_completion' ? 'completions' : 'chat',
    ...(typeof chunk.service_tier === 'string' && chunk.service_tier
      ? { serviceTier: chunk.service_tier }
      : {}),
  };
}

/** A first line longer than this is not a Batch API output line; stop reading. */
const MAX_FIRST_LINE = 1024 * 1024;

/**
 * Reads a copy of a file's content (`files.content()`) in the background and records each request
 * of a Batch API output file. Anything else is left alone at its first line. The caller's Response
 * is untouched: reading a clone leaves the original's body to the caller.
 */
function readBatchOutput(data: unknown, guardian: CostGuardian, attribution: Attribution): void {
  const response = data as Partial<Response>;
  if (typeof response.clone !== 'function' || !response.ok || !response.body) return;
  const copy = response.clone();
  const reader = copy.body?.getReader();
  if (!reader) return;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    let first = true;
    // false: not batch output, stop.
    const handle = (line: string): boolean => {
      const text = line.trim();
      if (text === '') return true;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return !first;
      }
      if (first) {
        first = false;
        if (!isObject(parsed) || typeof parsed.custom_id !== 'string' || !('response' in parsed))
          return false;
      }
      const observed = observeBatchLine(parsed);
      if (observed) guardian.record(observed, attribution);
      return true;
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
        let start = 0;
        for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n', start)) {
          if (!handle(buffer.slice(start, newline))) {
            await reader.cancel();
            return;
          }
          start = newline + 1;
        }
        buffer = buffer.slice(start);
        if (done) {
          handle(buffer);
          return;
        }
        if (first && buffer.length > MAX_FIRST_LINE) {
          await reader.cancel();
          return;
        }
      }
    } catch {
      // The body failed for the caller too; nothing to record.
    }
  })();
}
