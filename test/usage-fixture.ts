import { plainTokenCounts } from '../src/ingest/token-counts.js';
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
    ...plainTokenCounts(1000, 500),
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
