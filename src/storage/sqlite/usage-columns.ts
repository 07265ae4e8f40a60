/**
 * How the analytics columns of usage_log are stored: tags as a JSON object with sorted keys (so
 * equal maps are equal text), NULL when there are none.
 */
const tagsJson = new WeakMap<object, string | null>();

/** Kept per tag-set object: a client that reuses its tag objects pays for the text once. */
export function tagsToJson(tags: Readonly<Record<string, string>> | null | undefined): string | null {
  if (!tags) return null;
  let json = tagsJson.get(tags);
  if (json === undefined) {
    const keys = Object.keys(tags).sort();
    json = keys.length === 0 ? null : JSON.stringify(Object.fromEntries(keys.map((key) => [key, tags[key]])));
    tagsJson.set(tags, json);
  }
  return json;
}

/**
 * Rows repeat a few tag sets over and over (an app sends the same team/env/feature tags), so
 * parsed sets are shared: an export of a million rows parses each distinct set once. The objects
 * are frozen because they are shared; the cache is bounded.
 */
const parsedTags = new Map<string, Readonly<Record<string, string>>>();
const PARSED_TAGS_MAX = 10_000;

export function tagsFromJson(text: string | null): Readonly<Record<string, string>> | null {
  if (text === null) return null;
  let tags = parsedTags.get(text);
  if (!tags) {
    tags = Object.freeze(JSON.parse(text) as Record<string, string>);
    if (parsedTags.size >= PARSED_TAGS_MAX) parsedTags.clear();
    parsedTags.set(text, tags);
  }
  return tags;
}
