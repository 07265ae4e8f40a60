import type { NewUsage } from '../src/storage/store.js';

/** A realistic stored usage row (gpt-4o-mini, 1000 in / 500 out, priced), with overrides. */
export function usage(overrides: Partial<NewUsage> = {}): NewUsage {
  return {
    ts: Date.UTC(2026, 10, 1),
    receivedAt: Date.UTC(2026, 10, 1),
    source: 'ingest',
    ingestTokenId: null,
    eventId: null,
    provider: 'openai',
    model: 'gpt-4o-mini-2024-07-18',
    promptTokens: 1000,
    completionTokens: 500,
    totalTokens: 1500,
    cachedTokens: 0,
    cacheWriteTokens: 0,
    cacheWriteExtendedTokens: 0,
    reasoningTokens: 0,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    serviceTier: null,
    batch: false,
    completionWindow: null,
    costNanoUsd: 450_000,
    pricingStatus: 'priced',
    pricingSource: 'builtin@1',
    pricingRates: null,
    clientCostNanoUsd: null,
    meta: null,
    rawUsage: null,
    user: null,
    tags: null,
    ...overrides,
  };
}
