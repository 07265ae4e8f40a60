/**
 * Nesting depth checks for input that something recursive (JSON.stringify, a schema walker) will
 * read later: a 10 KB body nested 5,000 levels deep overflows the stack there. Neither check
 * recurses deeper than the limit it is given. Depth counts containers: `1` is 0 deep, `{}` and
 * `[]` are 1, `{"a":[1]}` is 2. bench/json-depth.ts measures what they cost.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * True when the JSON text nests deeper than `maxDepth`, by one pass over its characters (strings
 * skipped). Text that is not valid JSON gets an answer too, which does not matter: the parser
 * refuses it anyway.
 */
export function jsonTextDeeperThan(text: string, maxDepth: number): boolean {
  // Text with no more than maxDepth opening characters (in strings or not) cannot nest deeper.
  // Counting them with indexOf is native and fast; a usage record has a handful.
  let openings = 0;
  for (const opening of ['{', '[']) {
    for (
      let at = text.indexOf(opening);
      at !== -1 && openings <= maxDepth;
      at = text.indexOf(opening, at + 1)
    )
      openings += 1;
  }
  if (openings <= maxDepth) return false;
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      for (i += 1; i < length; i += 1) {
        const inner = text.charCodeAt(i);
        if (inner === BACKSLASH) i += 1;
        else if (inner === QUOTE) break;
      }
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return false;
}

/**
 * True when a parsed JSON value nests deeper than `maxDepth`. It recurses, but never more than
 * `maxDepth + 1` calls deep whatever the value: it answers as soon as the limit is passed.
 */
export function valueDeeperThan(value: unknown, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (maxDepth <= 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (valueDeeperThan(item, maxDepth - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (valueDeeperThan((value as Record<string, unknown>)[key], maxDepth - 1)) return true;
  }
  return false;
}
