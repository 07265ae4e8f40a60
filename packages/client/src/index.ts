/**
 * @cost-guardian/client: one line to track the cost of every LLM call in Cost Guardian.
 * This entry runs anywhere with fetch (edge runtimes, browsers, Deno, Bun); under Node the
 * package resolves to node.ts, which adds AsyncLocalStorage, exit flushing and the disk spool.
 */
import type { Attribution } from './attribution.js';
import {
  type CostGuardian,
  type CostGuardianOptions,
  costGuardian,
  type TrackOptions,
} from './cost-guardian.js';

export { type Attribution, withAttribution } from './attribution.js';
export type { ClientStats, CostGuardianOptions, TrackOptions } from './cost-guardian.js';
export { CostGuardian, costGuardian, flush } from './cost-guardian.js';
export type { BudgetVerdict, DeliveryEvent, FlushResult } from './delivery.js';
export type { Scheduler } from './scheduler.js';

/** Either the connection options (clients with equal options share one queue), or a client. */
export type ConnectOptions = CostGuardianOptions | ({ client: CostGuardian } & Attribution);

function connect(options: ConnectOptions): { client: CostGuardian; attribution: Attribution } {
  if ('client' in options) {
    const { client, ...attribution } = options;
    return { client, attribution };
  }
  const attribution: Attribution = {
    ...(options.user ? { user: options.user } : {}),
    ...(options.tags ? { tags: options.tags } : {}),
  };
  return { client: costGuardian(options), attribution };
}

/**
 * Returns a copy of an OpenAI client whose calls are tracked: Chat Completions, Responses,
 * Completions and embeddings (streamed or not), and Batch API results read with files.content().
 *
 *   const openai = wrapOpenAI(new OpenAI(), { trackingToken, endpoint, ingestKey });
 */
export function wrapOpenAI<T extends object>(openai: T, options: ConnectOptions): T {
  const { client, attribution } = connect(options);
  return client.wrapOpenAI(openai, attribution);
}

/**
 * Returns a copy of an Anthropic client whose messages.create calls (streamed or not, and
 * messages.stream()) are tracked.
 *
 *   const anthropic = wrapAnthropic(new Anthropic(), { trackingToken, endpoint, ingestKey });
 */
export function wrapAnthropic<T extends object>(anthropic: T, options: ConnectOptions): T {
  const { client, attribution } = connect(options);
  return client.wrapAnthropic(anthropic, attribution);
}

/** Tracks one response the app got from a provider itself. Never throws. */
export function track(response: unknown, options: ConnectOptions & TrackOptions): boolean {
  const { eventId, provider, batch, ...rest } = options as ConnectOptions & TrackOptions;
  const { client, attribution } = connect(rest as ConnectOptions);
  return client.track(response, {
    ...attribution,
    ...(eventId ? { eventId } : {}),
    ...(provider ? { provider } : {}),
    ...(batch ? { batch } : {}),
  });
}
