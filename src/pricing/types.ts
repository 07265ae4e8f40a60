import type { PricingStatus, TokenCounts } from '../storage/store.js';

/** Everything that decides the price of one call. */
export interface PriceQuery {
  provider: string;
  model: string;
  /** When the call happened: selects the price in force at that time. */
  atMs: number;
  usage: TokenCounts;
  serviceTier: string | null;
  batch: boolean;
  completionWindow: string | null;
}

export interface PriceResult {
  /** Integer nano-dollars; null when the model (or its tier) has no known price. */
  costNanoUsd: number | null;
  status: PricingStatus;
  /** Where the price came from, e.g. "builtin@1" or "override:<id>"; null when unpriced. */
  source: string | null;
  /** The rates and multipliers applied, for provenance. */
  rates: Record<string, unknown> | null;
}

/** Pure: no I/O, no clock. */
export interface Pricer {
  price(query: PriceQuery): PriceResult;
}
