/**
 * What the client learns from one provider call, before it becomes a usage record: the provider's
 * raw usage object (sent verbatim; the server reads cached, reasoning, audio and cache-write
 * tokens from it), the resolved model, the service tier and the response id.
 */
export type UsageApi = 'chat' | 'completions' | 'embeddings' | 'responses' | 'anthropic';

export interface Observation {
  /** The provider's response id; becomes event_id, so a resend is stored once. */
  eventId?: string;
  model: string;
  usage: Record<string, unknown>;
  api: UsageApi;
  provider?: string;
  serviceTier?: string;
  /** The call ran through a Batch API. */
  batch?: boolean;
}

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Reads a provider response body: an OpenAI chat completion, legacy completion, Responses API
 * response, embeddings list, or an Anthropic message. Undefined when it carries no usage (a
 * background response still queued, an unknown shape).
 * `fallbackId` is used when the body has no id of its own (embeddings): the request id.
 */
export function observeResponse(body: unknown, fallbackId?: string): Observation | undefined {
  if (!isObject(body) || !isObject(body.usage)) return undefined;
  const model = text(body.model);
  if (!model) return undefined;
  const id = text(body.id) ?? fallbackId;
  const serviceTier = text(body.service_tier);
  const base = {
    ...(id ? { eventId: id } : {}),
    model,
    usage: body.usage,
    ...(serviceTier ? { serviceTier } : {}),
  };
  switch (body.object) {
    case 'chat.completion':
      return { ...base, api: 'chat' };
    case 'text_completion':
      return { ...base, api: 'completions' };
    case 'response':
      return { ...base, api: 'responses' };
    case 'list':
      return { ...base, api: 'embeddings' };
  }
  if (body.type === 'message' && 'input_tokens' in body.usage) {
    // Anthropic reports its service tier inside usage, where the server reads it.
    return { ...base, api: 'anthropic', provider: 'anthropic' };
  }
  return undefined;
}

/**
 * One line of an OpenAI Batch API output file:
 * {"id":"batch_req_...","custom_id":"...","response":{"status_code":200,"request_id":"...","body":{...}},"error":null}
 * Undefined for anything else (an input file's line, a failed request, an error line).
 */
export function observeBatchLine(line: unknown): Observation | undefined {
  if (!isObject(line) || typeof line.custom_id !== 'string' || !isObject(line.response)) return undefined;
  const response = line.response;
  if (response.status_code !== 200) return undefined;
  const observed = observeResponse(response.body, text(line.id) ?? text(response.request_id));
  return observed ? { ...observed, batch: true } : undefined;
}
