/**
 * How the analytics columns of usage_log are stored: tags as a JSON object with sorted keys (so
 * equal maps are equal text), NULL when there are none.
 */
export function tagsToJson(tags: Readonly<Record<string, string>> | null | undefined): string | null {
  if (!tags) return null;
  const keys = Object.keys(tags).sort();
  if (keys.length === 0) return null;
  return JSON.stringify(Object.fromEntries(keys.map((key) => [key, tags[key]])));
}

export function tagsFromJson(text: string | null): Record<string, string> | null {
  return text === null ? null : (JSON.parse(text) as Record<string, string>);
}
