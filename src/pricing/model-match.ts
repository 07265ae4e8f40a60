import type { ConditionalPrice, MatchLogic, ModelInfo, ModelPrice } from '@pydantic/genai-prices';
import { RE2JS } from 're2js';

/**
 * Matching model names against price entries written by people (price overrides and our overlay),
 * in linear time. Model names come from ingest clients, so a backtracking engine (V8's RegExp,
 * which @pydantic/genai-prices uses) can be made to run for minutes by one crafted name against a
 * pattern like `(a|a)*$`. Every regex here is compiled by re2js, a port of RE2: its matching time
 * grows linearly with the name, whatever the pattern, and a pattern it cannot run that way
 * (lookaround, backreferences) does not compile. See docs/adr/011-linear-time-override-regexes.md.
 *
 * The semantics are the package's own, so that an override means what its schema says: string
 * rules compare case-insensitively, a regex is searched (unanchored) in the lower-cased name, and
 * a dated snapshot written `-20250414` is tried again as `-2025-04-14`.
 */

/**
 * The largest RE2 program one pattern may compile to. Matching costs about (program size x name
 * length) steps in the worst case; real model patterns are 10-60 instructions, and
 * `[a-z0-9._-]{1,200}` is 401.
 */
export const MAX_REGEX_PROGRAM_SIZE = 1000;

/** The largest total program size of every regex in one overrides document (bounds a name's match cost). */
export const MAX_TOTAL_REGEX_PROGRAM_SIZE = 20_000;

export type RegexCompilation =
  | { ok: true; regex: RE2JS; programSize: number }
  | { ok: false; reason: string };

/** Compiles a match regex for the linear-time engine, or says in plain words why it cannot. */
export function compileModelRegex(pattern: string): RegexCompilation {
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern);
  } catch (error) {
    const detail = (error as Error).message.replace(/^error parsing regexp: /, '');
    return {
      ok: false,
      reason: `is not accepted by the linear-time (RE2) regex engine: ${detail} (lookahead, lookbehind, backreferences and possessive quantifiers are not supported)`,
    };
  }
  const programSize = regex.programSize();
  if (programSize > MAX_REGEX_PROGRAM_SIZE) {
    return {
      ok: false,
      reason: `is too large: it compiles to ${programSize} RE2 instructions (at most ${MAX_REGEX_PROGRAM_SIZE}); use fewer or smaller counted repetitions`,
    };
  }
  return { ok: true, regex, programSize };
}

/** Tests a lower-cased, trimmed model name. */
export type ModelPredicate = (model: string) => boolean;

/**
 * A match rule as a predicate. Throws for a regex the engine refuses: validation
 * (price-overrides.ts) refuses such documents before they get here. `refusedRegex: 'matches'`
 * instead makes such a regex match every name (an over-approximation, for a prefilter whose hits
 * are confirmed otherwise: the package's own rules include a few lookaheads).
 */
export function compileMatch(
  logic: MatchLogic,
  refusedRegex: 'throws' | 'matches' = 'throws',
): ModelPredicate {
  if ('or' in logic) {
    const parts = logic.or.map((part) => compileMatch(part, refusedRegex));
    return (model) => parts.some((part) => part(model));
  }
  if ('and' in logic) {
    const parts = logic.and.map((part) => compileMatch(part, refusedRegex));
    return (model) => parts.every((part) => part(model));
  }
  if ('equals' in logic) {
    const value = logic.equals.toLowerCase();
    return (model) => model === value;
  }
  if ('starts_with' in logic) {
    const value = logic.starts_with.toLowerCase();
    return (model) => model.startsWith(value);
  }
  if ('ends_with' in logic) {
    const value = logic.ends_with.toLowerCase();
    return (model) => model.endsWith(value);
  }
  if ('contains' in logic) {
    const value = logic.contains.toLowerCase();
    return (model) => model.includes(value);
  }
  if ('regex' in logic) {
    const compiled = compileModelRegex(logic.regex);
    if (!compiled.ok && refusedRegex === 'matches') return () => true;
    if (!compiled.ok) throw new Error(`regex ${JSON.stringify(logic.regex)} ${compiled.reason}`);
    const { regex } = compiled;
    return (model) => regex.test(model);
  }
  throw new Error(`not a match rule: ${JSON.stringify(logic)}`);
}

const COMPACT_DATE = /(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)/g;

/** `gpt-4o-20240806` -> `gpt-4o-2024-08-06` (real dates only), as the package retries a name. */
export function spellOutDates(model: string): string {
  return model.replace(COMPACT_DATE, (whole, dash: string, year: string, month: string, day: string) => {
    const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
    return date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day)
      ? `${dash}${year}-${month}-${day}`
      : whole;
  });
}

export interface CompiledModel {
  info: ModelInfo;
  matches: ModelPredicate;
}

/** The first entry whose rule matches the name (or its spelled-out dates), like the package. */
export function findModel(models: readonly CompiledModel[], model: string): CompiledModel | undefined {
  const found = models.find((candidate) => candidate.matches(model));
  if (found) return found;
  const spelled = spellOutDates(model);
  return spelled === model ? undefined : models.find((candidate) => candidate.matches(spelled));
}

/**
 * The price of an entry in force at `atMs`: the last dated price whose start date is not after it
 * (start dates are UTC midnights), or the first price before every start date. Entries written by
 * people have start-date constraints only (validation refuses time-of-day prices).
 */
export function priceAt(info: ModelInfo, atMs: number): ModelPrice {
  if (!Array.isArray(info.prices)) return info.prices;
  const dated = info.prices as ConditionalPrice[];
  for (let index = dated.length - 1; index >= 0; index -= 1) {
    const entry = dated[index] as ConditionalPrice;
    const constraint = entry.constraint;
    if (constraint === undefined) return entry.prices;
    if (constraint.type !== 'start_date') {
      throw new Error(
        `price entry ${info.id} has a ${constraint.type} constraint; only start dates are supported`,
      );
    }
    if (atMs >= Date.parse(`${constraint.start_date}T00:00:00Z`)) return entry.prices;
  }
  return (dated[0] as ConditionalPrice).prices;
}
