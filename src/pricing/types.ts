import type { PricingStatus, TokenCounts } from '../storage/store.js';
import type { ProviderInference } from './infer-provider.js';

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
  /** Integer nano-dollars; null when the model (or its usage) has no known price. Never 0 for "unknown". */
  costNanoUsd: number | null;
  /** priced: every rate is known; estimated: a default stood in (e.g. a tier multiplier); unpriced: no cost. */
  status: PricingStatus;
  /** The price layer and its version, e.g. "genai-prices@0.1.8" or "override-db@v3"; null when unpriced. */
  source: string | null;
  /** The rates and multipliers applied (or why there are none), for provenance. */
  rates: Record<string, unknown> | null;
  /** `rates` as JSON text, serialised once per distinct rate set (what is stored on the row). */
  ratesJson: string | null;
  /** The service tier the cost was computed for: standard, batch, flex, priority, background_2h, ... */
  tier: string | null;
  /** Why the result is estimated or unpriced; null when priced. */
  reason: string | null;
}

/** Pure: no I/O, no clock. Implementations must not throw for any query: a price they cannot give is `unpriced`. */
export interface Pricer {
  price(query: PriceQuery): PriceResult;
  /**
   * Optional: the provider of a model that a record names no provider for, from the price
   * catalogue (infer-provider.ts). Without it, such records get the default provider.
   */
  inferProvider?(model: string, defaultProvider: string): ProviderInference;
}
