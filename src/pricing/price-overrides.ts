import {
  type ConditionalPrice,
  calcPrice,
  type MatchLogic,
  type ModelPrice,
  type Provider,
} from '@pydantic/genai-prices';
import { parse as parseYaml, YAMLError } from 'yaml';
import { BILLED_PRICE_KEYS } from './compute-cost.js';
import { compileModelRegex, MAX_TOTAL_REGEX_PROGRAM_SIZE } from './model-match.js';

/**
 * User price overrides: negotiated rates, deployments, models no source knows yet, fixes. The
 * document is @pydantic/genai-prices' own ModelInfo shape grouped by provider id, so one engine
 * prices both (see docs/pricing.md):
 *
 *   openai:
 *     - id: gpt-6.2-sol
 *       match: { or: [ { equals: gpt-6.2-sol }, { starts_with: 'gpt-6.2-sol-' } ] }   # default: equals id
 *       prices:                                      # one ModelPrice, or effective-dated entries:
 *         - prices: { input_mtok: 2, cache_read_mtok: 0.1, output_mtok: 10 }
 *         - constraint: { type: start_date, start_date: '2027-01-01' }
 *           prices: { input_mtok: 3, cache_read_mtok: 0.15, output_mtok: 15 }
 *       source: https://developers.openai.com/api/docs/models/gpt-6.2-sol
 *
 * Validation is pure and total: it names every entry at fault, or returns a normalised document.
 */

export interface OverrideEntry {
  id: string;
  name?: string;
  match: MatchLogic;
  prices: ModelPrice | ConditionalPrice[];
  source?: string;
  note?: string;
}

/** Provider id -> entries, in the order written (first match wins within a provider). */
export type OverrideDocument = Record<string, OverrideEntry[]>;

export type OverrideValidation = { ok: true; document: OverrideDocument } | { ok: false; errors: string[] };

const PROVIDER_ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ENTRY_KEYS = new Set(['id', 'name', 'match', 'prices', 'source', 'note']);
const STRING_MATCHERS = ['equals', 'starts_with', 'ends_with', 'contains', 'regex'] as const;
const PRICE_KEYS: ReadonlySet<string> = new Set(BILLED_PRICE_KEYS);
const MAX_RATE = 1_000_000;
const MAX_ENTRIES = 2_000;
const MAX_ERRORS = 20;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isRealDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
}

/** Checks a match rule; adds the RE2 program size of each of its regexes to `regexSize.total`. */
function checkMatch(
  value: unknown,
  path: string,
  errors: string[],
  regexSize: { total: number },
  depth = 0,
): value is MatchLogic {
  if (depth > 8) {
    errors.push(`${path} is nested too deeply (at most 8 levels)`);
    return false;
  }
  if (!isObject(value) || Object.keys(value).length !== 1) {
    errors.push(
      `${path} must be an object with exactly one of equals, starts_with, ends_with, contains, regex, and, or`,
    );
    return false;
  }
  const [key, inner] = Object.entries(value)[0] as [string, unknown];
  if (key === 'and' || key === 'or') {
    if (!Array.isArray(inner) || inner.length === 0) {
      errors.push(`${path}.${key} must be a non-empty list of match rules`);
      return false;
    }
    return inner.every((item, index) =>
      checkMatch(item, `${path}.${key}[${index}]`, errors, regexSize, depth + 1),
    );
  }
  if (!(STRING_MATCHERS as readonly string[]).includes(key)) {
    errors.push(`${path}.${key} is not a match rule (use ${[...STRING_MATCHERS, 'and', 'or'].join(', ')})`);
    return false;
  }
  if (typeof inner !== 'string' || inner === '' || inner.length > 500) {
    errors.push(`${path}.${key} must be a non-empty string of at most 500 characters`);
    return false;
  }
  if (key === 'regex') {
    // Model names come from ingest clients: regexes run on RE2's linear-time engine, never on
    // V8's backtracking one (model-match.ts), so a pattern RE2 cannot compile is refused here.
    const compiled = compileModelRegex(inner);
    if (!compiled.ok) {
      errors.push(`${path}.regex ${JSON.stringify(inner)} ${compiled.reason}`);
      return false;
    }
    regexSize.total += compiled.programSize;
  }
  return true;
}

function checkRate(value: unknown, path: string, errors: string[]): boolean {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0 && value <= MAX_RATE) return true;
    errors.push(`${path} must be a number from 0 to ${MAX_RATE} (USD per million; got ${describe(value)})`);
    return false;
  }
  if (!isObject(value) || !('base' in value) || !Array.isArray(value.tiers)) {
    errors.push(`${path} must be a number or { base, tiers: [{ start, price }] } (got ${describe(value)})`);
    return false;
  }
  const extra = Object.keys(value).filter((key) => key !== 'base' && key !== 'tiers');
  if (extra.length > 0) errors.push(`${path}.${extra[0]} is not a known field (use base, tiers)`);
  let ok = extra.length === 0 && checkRate(value.base, `${path}.base`, errors);
  let previous = -1;
  value.tiers.forEach((tier: unknown, index: number) => {
    const tierPath = `${path}.tiers[${index}]`;
    if (!isObject(tier) || Object.keys(tier).some((key) => key !== 'start' && key !== 'price')) {
      errors.push(`${tierPath} must be { start, price }`);
      ok = false;
      return;
    }
    if (typeof tier.start !== 'number' || !Number.isSafeInteger(tier.start) || tier.start < 0) {
      errors.push(`${tierPath}.start must be a whole number of input tokens (got ${describe(tier.start)})`);
      ok = false;
    } else if (tier.start <= previous) {
      errors.push(`${tierPath}.start must be greater than the previous tier's start (${previous})`);
      ok = false;
    } else previous = tier.start;
    if (typeof tier.price !== 'number') {
      errors.push(`${tierPath}.price must be a number`);
      ok = false;
    } else ok = checkRate(tier.price, `${tierPath}.price`, errors) && ok;
  });
  return ok;
}

function checkModelPrice(value: unknown, path: string, errors: string[]): value is ModelPrice {
  if (!isObject(value)) {
    errors.push(`${path} must be an object of rates like { input_mtok: 2, output_mtok: 8 }`);
    return false;
  }
  let ok = true;
  for (const [key, rate] of Object.entries(value)) {
    if (!PRICE_KEYS.has(key)) {
      errors.push(`${path}.${key} is not a price key this service bills (use ${[...PRICE_KEYS].join(', ')})`);
      ok = false;
      continue;
    }
    ok = checkRate(rate, `${path}.${key}`, errors) && ok;
  }
  if (!('input_mtok' in value) && !('output_mtok' in value)) {
    errors.push(`${path} must have input_mtok or output_mtok`);
    ok = false;
  }
  return ok;
}

function checkPrices(value: unknown, path: string, errors: string[]): boolean {
  if (!Array.isArray(value)) return checkModelPrice(value, path, errors);
  if (value.length === 0) {
    errors.push(`${path} must not be an empty list`);
    return false;
  }
  let ok = true;
  let previousDate = '';
  value.forEach((item: unknown, index: number) => {
    const itemPath = `${path}[${index}]`;
    if (!isObject(item) || Object.keys(item).some((key) => key !== 'constraint' && key !== 'prices')) {
      errors.push(`${itemPath} must be { constraint?: { type: start_date, start_date }, prices }`);
      ok = false;
      return;
    }
    ok = checkModelPrice(item.prices, `${itemPath}.prices`, errors) && ok;
    if (item.constraint === undefined) {
      if (index > 0) {
        errors.push(`${itemPath}.constraint is required: only the first entry may have no start date`);
        ok = false;
      }
      return;
    }
    const constraint = item.constraint;
    const keys = isObject(constraint) ? Object.keys(constraint).sort().join(',') : '';
    if (!isObject(constraint) || (keys !== 'start_date' && keys !== 'start_date,type')) {
      errors.push(`${itemPath}.constraint must be { type: start_date, start_date: YYYY-MM-DD }`);
      ok = false;
      return;
    }
    if (constraint.type !== undefined && constraint.type !== 'start_date') {
      errors.push(
        `${itemPath}.constraint.type must be start_date (time-of-day prices are not supported here)`,
      );
      ok = false;
    }
    const date = constraint.start_date;
    if (typeof date !== 'string' || !isRealDate(date)) {
      errors.push(`${itemPath}.constraint.start_date must be a date like 2027-01-01 (got ${describe(date)})`);
      ok = false;
      return;
    }
    if (date <= previousDate) {
      errors.push(`${itemPath}.constraint.start_date must be after the previous entry's (${previousDate})`);
      ok = false;
    }
    previousDate = date;
  });
  return ok;
}

function normaliseEntry(entry: Record<string, unknown>): OverrideEntry {
  const id = (entry.id as string).trim();
  const prices = Array.isArray(entry.prices)
    ? (entry.prices as { constraint?: { start_date: string }; prices: ModelPrice }[]).map((item) =>
        item.constraint
          ? {
              constraint: { type: 'start_date' as const, start_date: item.constraint.start_date },
              prices: item.prices,
            }
          : { prices: item.prices },
      )
    : (entry.prices as ModelPrice);
  return {
    id,
    ...(typeof entry.name === 'string' ? { name: entry.name } : {}),
    match: (entry.match as MatchLogic | undefined) ?? { equals: id },
    prices,
    ...(typeof entry.source === 'string' ? { source: entry.source } : {}),
    ...(typeof entry.note === 'string' ? { note: entry.note } : {}),
  };
}

/**
 * Runs the package's own checks on every dated price of an entry (it refuses, for example, a
 * cache_write_1h_mtok without cache_write_mtok, or audio and cache rates without their overlap).
 * The entry is matched by its id only: its own match rule never runs on the package's (backtracking)
 * regex engine.
 */
function checkWithPackage(providerId: string, entry: OverrideEntry, path: string, errors: string[]): void {
  const provider: Provider = {
    id: providerId,
    name: `${providerId} (check)`,
    // Never matched by URL: chosen by id only.
    api_pattern: '(?!)',
    models: [{ id: entry.id, match: { equals: entry.id }, prices: entry.prices }],
  };
  const dates = Array.isArray(entry.prices)
    ? entry.prices.map((item) =>
        item.constraint?.type === 'start_date'
          ? new Date(`${item.constraint.start_date}T00:00:00Z`)
          : new Date(0),
      )
    : [new Date(0)];
  for (const timestamp of dates) {
    try {
      calcPrice({ input_tokens: 1000, output_tokens: 1000 }, entry.id, { provider, timestamp });
    } catch (error) {
      errors.push(`${path}: ${(error as Error).message}`);
      return;
    }
  }
}

interface Checked {
  /** The valid entries. */
  document: OverrideDocument;
  /** Every error in document order; an entry with an error is not in `document`. */
  errors: string[];
  /** Whether an error refuses the whole document (its shape, its size), not just entries. */
  refusesDocument: boolean;
}

function check(input: unknown): Checked {
  const errors: string[] = [];
  let refusesDocument = false;
  const refuse = (message: string) => {
    errors.push(message);
    refusesDocument = true;
  };
  const document: OverrideDocument = {};
  if (input === null || input === undefined) return { document, errors, refusesDocument };
  if (!isObject(input)) {
    refuse('price overrides must be an object of provider id -> list of models');
    return { document, errors, refusesDocument };
  }
  let total = 0;
  const regexSize = { total: 0 };
  for (const [providerId, entries] of Object.entries(input)) {
    if (!PROVIDER_ID.test(providerId)) {
      refuse(`"${providerId}" is not a provider id (lower case, like openai, anthropic, google)`);
      continue;
    }
    if (!Array.isArray(entries)) {
      refuse(`${providerId} must be a list of models`);
      continue;
    }
    total += entries.length;
    const seen = new Set<string>();
    const valid: OverrideEntry[] = [];
    entries.forEach((entry: unknown, index: number) => {
      const id = isObject(entry) && typeof entry.id === 'string' ? entry.id.trim() : '';
      const path = `${providerId}[${index}]${id ? ` ${id}` : ''}`;
      if (!isObject(entry)) {
        errors.push(`${path} must be an object with id and prices`);
        return;
      }
      const before = errors.length;
      const unknown = Object.keys(entry).filter((key) => !ENTRY_KEYS.has(key));
      for (const key of unknown)
        errors.push(`${path}: ${key} is not a known field (use ${[...ENTRY_KEYS].join(', ')})`);
      if (id === '' || id.length > 200)
        errors.push(`${path}: id must be a non-empty string of at most 200 characters`);
      else if (seen.has(id.toLowerCase())) errors.push(`${path}: id ${id} appears twice under ${providerId}`);
      seen.add(id.toLowerCase());
      for (const key of ['name', 'source', 'note'] as const) {
        if (
          entry[key] !== undefined &&
          (typeof entry[key] !== 'string' || (entry[key] as string).length > 1000)
        ) {
          errors.push(`${path}: ${key} must be a string of at most 1000 characters`);
        }
      }
      const entrySize = { total: 0 };
      if (entry.match !== undefined) checkMatch(entry.match, `${path}: match`, errors, entrySize);
      if (errors.length === before && regexSize.total + entrySize.total > MAX_TOTAL_REGEX_PROGRAM_SIZE) {
        errors.push(
          `${path}: match: the regexes of all entries up to this one compile to ${regexSize.total + entrySize.total} RE2 instructions, more than the ${MAX_TOTAL_REGEX_PROGRAM_SIZE} one document may have (each unknown model name is matched against all of them); use starts_with or equals where they suffice`,
        );
      }
      if (entry.prices === undefined) errors.push(`${path}: prices is required`);
      else checkPrices(entry.prices, `${path}: prices`, errors);
      if (errors.length > before) return;
      const normalised = normaliseEntry(entry);
      checkWithPackage(providerId, normalised, path, errors);
      if (errors.length === before) {
        regexSize.total += entrySize.total;
        valid.push(normalised);
      }
    });
    document[providerId] = valid;
  }
  if (total > MAX_ENTRIES) refuse(`price overrides may have at most ${MAX_ENTRIES} models (got ${total})`);
  return { document, errors, refusesDocument };
}

function capped(errors: readonly string[]): string[] {
  const shown = errors.slice(0, MAX_ERRORS);
  if (errors.length > MAX_ERRORS) shown.push(`... and ${errors.length - MAX_ERRORS} more`);
  return shown;
}

/** Validates a parsed overrides document; every error names its entry ("openai[1] gpt-6.2-sol: ..."). */
export function validateOverrides(input: unknown): OverrideValidation {
  const { document, errors } = check(input);
  return errors.length > 0 ? { ok: false, errors: capped(errors) } : { ok: true, document };
}

/**
 * For a document that was valid when it was saved (a stored version) but that this build's rules
 * refuse in part, e.g. a regex the linear-time engine cannot compile: the entries that are still
 * valid, and one message per refused entry, naming it. Null when the document as a whole is refused.
 */
export function salvageOverrides(
  input: unknown,
): { document: OverrideDocument; refused: string[] } | { document: null; refused: string[] } {
  const { document, errors, refusesDocument } = check(input);
  return { document: refusesDocument ? null : document, refused: errors };
}

/** Parses YAML (or JSON, which is YAML) text; a syntax error is reported with its line and column. */
export function parseOverridesText(text: string): OverrideValidation {
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (error) {
    if (error instanceof YAMLError)
      return { ok: false, errors: [`not valid YAML or JSON: ${error.message}`] };
    throw error;
  }
  return validateOverrides(parsed);
}

export function countEntries(document: OverrideDocument): number {
  return Object.values(document).reduce((sum, entries) => sum + entries.length, 0);
}
