/** Opaque page cursors: base64url of a small JSON array. Clients must not build or parse them. */
export function encodeCursor(parts: readonly number[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** Undefined when the text is not a cursor this service wrote with `size` integer parts. */
export function decodeCursor(text: string, size: number): number[] | undefined {
  try {
    const parts: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(parts) || parts.length !== size) return undefined;
    if (!parts.every((p) => Number.isSafeInteger(p))) return undefined;
    return parts as number[];
  } catch {
    return undefined;
  }
}
