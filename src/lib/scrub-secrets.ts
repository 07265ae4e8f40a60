export const REDACTED = '[redacted]';

/** Percent-decoding rounds: `%252D` is `-` encoded twice; three rounds catch what clients do by mistake. */
const MAX_DECODE_ROUNDS = 3;

/** A string of bytes (one char per byte, 0-255) and, for each byte, the span of the line it came from. */
interface Decoded {
  bytes: string;
  from: number[];
  to: number[];
}

const isHex = (code: number) =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 70) || (code >= 97 && code <= 102);

/** The line as UTF-8 bytes, each mapped to the characters it came from. */
function asBytes(line: string): Decoded {
  const bytes: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < line.length; ) {
    const codePoint = line.codePointAt(i) ?? 0;
    const width = codePoint > 0xffff ? 2 : 1;
    const encoded = codePoint < 0x80 ? line[i] : Buffer.from(line.slice(i, i + width)).toString('latin1');
    for (const byte of encoded ?? '') {
      bytes.push(byte);
      from.push(i);
      to.push(i + width);
    }
    i += width;
  }
  return { bytes: bytes.join(''), from, to };
}

/** One round of percent-decoding (`+` as a space when `plusIsSpace`), keeping the map to the line. */
function percentDecode(input: Decoded, plusIsSpace: boolean): Decoded {
  const { bytes: text } = input;
  const bytes: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length; ) {
    const isEscape =
      text.charCodeAt(i) === 37 &&
      i + 2 < text.length &&
      isHex(text.charCodeAt(i + 1)) &&
      isHex(text.charCodeAt(i + 2));
    const width = isEscape ? 3 : 1;
    let byte = isEscape
      ? String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 3), 16))
      : (text[i] ?? '');
    if (plusIsSpace && byte === '+' && !isEscape) byte = ' ';
    bytes.push(byte);
    from.push(input.from[i] ?? 0);
    to.push(input.to[i + width - 1] ?? 0);
    i += width;
  }
  return { bytes: bytes.join(''), from, to };
}

/** Spans of `line` that decode to a secret (as UTF-8 bytes), found after each round of decoding. */
function encodedSpans(line: string, secrets: readonly string[], plusIsSpace: boolean): [number, number][] {
  const spans: [number, number][] = [];
  let decoded = asBytes(line);
  for (let round = 0; round < MAX_DECODE_ROUNDS; round += 1) {
    if (round > 0 && !decoded.bytes.includes('%')) break;
    decoded = percentDecode(decoded, plusIsSpace);
    for (const secret of secrets) {
      for (let at = decoded.bytes.indexOf(secret); at !== -1; at = decoded.bytes.indexOf(secret, at + 1)) {
        spans.push([decoded.from[at] ?? 0, decoded.to[at + secret.length - 1] ?? line.length]);
      }
    }
  }
  return spans;
}

function redactSpans(line: string, spans: [number, number][]): string {
  if (spans.length === 0) return line;
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let done = 0;
  for (const [start, end] of spans) {
    if (end <= done) continue;
    out += line.slice(done, Math.max(done, start));
    if (start >= done) out += REDACTED;
    done = end;
  }
  return out + line.slice(done);
}

/**
 * Returns a function that replaces every configured secret in a log line with "[redacted]": as
 * written, as JSON escapes it, and in any percent-encoded form (partly or wholly encoded, upper or
 * lower case hex, encoded twice, `+` for a space), since a client may paste a key into a URL and
 * the access log writes the raw URL. The encoded search runs only on lines that contain `%` or,
 * when a secret has a space, `+`.
 */
export function createSecretScrubber(secrets: readonly (string | undefined)[]): (line: string) => string {
  const known = [...new Set(secrets.filter((s): s is string => s !== undefined && s !== ''))].sort(
    (a, b) => b.length - a.length,
  );
  if (known.length === 0) return (line) => line;
  const literal = known.flatMap((secret) => {
    const escaped = JSON.stringify(secret).slice(1, -1);
    return escaped === secret ? [secret] : [secret, escaped];
  });
  const asUtf8Bytes = known.map((secret) => Buffer.from(secret).toString('latin1'));
  const anySpace = known.some((secret) => secret.includes(' '));

  return (line) => {
    let scrubbed = line;
    for (const form of literal) {
      if (scrubbed.includes(form)) scrubbed = scrubbed.replaceAll(form, REDACTED);
    }
    const hasPercent = scrubbed.includes('%');
    const plusForSpace = anySpace && scrubbed.includes('+');
    if (!hasPercent && !plusForSpace) return scrubbed;
    const spans = hasPercent ? encodedSpans(scrubbed, asUtf8Bytes, false) : [];
    // Read `+` as a space too; the reading above finds a key that has a `+` of its own.
    if (plusForSpace) spans.push(...encodedSpans(scrubbed, asUtf8Bytes, true));
    return redactSpans(scrubbed, spans);
  };
}
