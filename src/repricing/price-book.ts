import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import {
  type OverrideDocument,
  parseOverridesText,
  salvageOverrides,
  validateOverrides,
} from '../pricing/price-overrides.js';
import {
  type BaseMatch,
  createPricingEngine,
  type OverrideLayer,
  type PricingEngine,
} from '../pricing/pricing-engine.js';
import type { Pricer } from '../pricing/types.js';
import type { ModelUsage, PriceOverrideVersion, Store } from '../storage/store.js';

/**
 * The price book: the pricing engine in force, rebuilt whenever the overrides change. Overrides
 * come from PRICES_FILE (read once at startup) and from the admin API (stored as versions in the
 * database). Precedence: database over file over our overlay over @pydantic/genai-prices, per
 * model, because an edit through the API is the later, deliberate act (docs/pricing.md).
 * Changing overrides never touches stored rows: only a reprice run does.
 */

export interface PriceFile {
  path: string;
  /** sha256 of the file's bytes, shortened: part of each row's pricing source. */
  version: string;
  document: OverrideDocument;
}

export class PriceFileError extends Error {
  constructor(path: string, problems: readonly string[]) {
    super(`PRICES_FILE ${path} is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PriceFileError';
  }
}

/** Reads and validates PRICES_FILE; throws PriceFileError naming each entry at fault. */
export function loadPriceFile(path: string): PriceFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PriceFileError(path, [`cannot be read: ${(error as Error).message}`]);
  }
  const parsed = parseOverridesText(text);
  if (!parsed.ok) throw new PriceFileError(path, parsed.errors);
  const version = `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
  return { path, version, document: parsed.document };
}

export interface StoredOverrides {
  version: number;
  createdAt: number;
  actor: string;
  note: string | null;
  document: OverrideDocument;
}

export interface AffectedModel {
  provider: string;
  model: string;
  requests: number;
}

export interface ModelPricing extends ModelUsage {
  /** Whether a price exists now for this (provider, model), and which layer gives it. */
  pricedNow: boolean;
  priceSource: string | null;
}

export interface PriceBook {
  /** Prices with whatever engine is current at the time of the call. */
  readonly pricer: Pricer;
  current(): PricingEngine;
  file(): PriceFile | null;
  stored(): StoredOverrides | null;
  /**
   * Entries of the stored overrides version in force that this build refuses (e.g. a regex the
   * linear-time engine cannot compile, saved by an older build), one message each naming the
   * entry. They are skipped; the others apply. Empty once a valid version is saved.
   */
  refused(): readonly string[];
  /**
   * Validates and saves a new overrides version, then switches the engine. Returns the models with
   * stored usage whose price now resolves differently: their stored costs are NOT changed.
   */
  putOverrides(
    input: unknown,
    meta: { actor: string; note: string | null },
  ): Promise<{ stored: StoredOverrides; affected: AffectedModel[] }>;
  /** Every model with usage, its unpriced usage, and whether it has a price now. */
  modelPricing(): Promise<ModelPricing[]>;
}

export function layers(file: PriceFile | null, stored: StoredOverrides | null): OverrideLayer[] {
  const result: OverrideLayer[] = [];
  if (stored) result.push({ name: 'override-db', version: `v${stored.version}`, document: stored.document });
  if (file) result.push({ name: 'override-file', version: file.version, document: file.document });
  return result;
}

/**
 * A stored version as this build reads it. A version was valid when it was saved, but a later build
 * may refuse some of its entries (its rules tightened): those are skipped and named, never a reason
 * not to start, because the database cannot be fixed before the service is up.
 */
function fromVersion(row: PriceOverrideVersion): { stored: StoredOverrides; refused: string[] } {
  const salvaged = salvageOverrides(JSON.parse(row.document));
  const prefix = `price overrides version ${row.version} (database)`;
  return {
    stored: {
      version: row.version,
      createdAt: row.createdAt,
      actor: row.actor,
      note: row.note,
      document: salvaged.document ?? {},
    },
    refused: salvaged.refused.map((message) =>
      salvaged.document === null ? `${prefix}, all skipped: ${message}` : `${prefix}, skipped ${message}`,
    ),
  };
}

function samePrice(a: BaseMatch | null, b: BaseMatch | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.source === b.source && a.modelId === b.modelId && JSON.stringify(a.price) === JSON.stringify(b.price)
  );
}

export async function createPriceBook(deps: {
  store: Store;
  clock: Clock;
  file?: PriceFile | null;
}): Promise<PriceBook> {
  const { store, clock } = deps;
  const file = deps.file ?? null;
  const latest = await store.latestPriceOverrides();
  let stored: StoredOverrides | null = null;
  let refused: readonly string[] = [];
  if (latest) ({ stored, refused } = fromVersion(latest));
  let engine = createPricingEngine({ overrides: layers(file, stored) });

  return {
    pricer: {
      price: (query) => engine.price(query),
      inferProvider: (model, defaultProvider) => engine.inferProvider(model, defaultProvider),
    },
    current: () => engine,
    file: () => file,
    stored: () => stored,
    refused: () => refused,

    async putOverrides(input, meta) {
      const checked = validateOverrides(input);
      if (!checked.ok) throw new AppError('invalid_request', `price overrides: ${checked.errors.join('; ')}`);
      const row = await store.savePriceOverrides({
        document: JSON.stringify(checked.document),
        createdAt: clock.now(),
        actor: meta.actor,
        note: meta.note,
      });
      const before = engine;
      ({ stored, refused } = fromVersion(row));
      engine = createPricingEngine({ overrides: layers(file, stored) });
      const affected: AffectedModel[] = [];
      const now = clock.now();
      for (const usage of await store.listModelUsage()) {
        const changed = [now, usage.lastAt].some(
          (at) =>
            !samePrice(
              before.resolve(usage.provider, usage.model, at),
              engine.resolve(usage.provider, usage.model, at),
            ),
        );
        if (changed)
          affected.push({ provider: usage.provider, model: usage.model, requests: usage.requests });
      }
      return { stored, affected };
    },

    async modelPricing() {
      const now = clock.now();
      return (await store.listModelUsage()).map((usage) => {
        const match = engine.resolve(usage.provider, usage.model, now);
        return { ...usage, pricedNow: match !== null, priceSource: match?.source ?? null };
      });
    },
  };
}
