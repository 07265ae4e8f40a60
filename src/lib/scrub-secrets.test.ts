import { describe, expect, test } from 'vitest';
import { createSecretScrubber } from './scrub-secrets.js';

const ADMIN = 'admin-key-Zq8vT3kP9wX2mN5r';
const INGEST = 'ingest/key+Hy4c=B7nL1sD6fJ0g';
const scrub = createSecretScrubber([ADMIN, INGEST, undefined, '']);

/** Every byte percent-encoded, in upper or lower case hex. */
const encodeAll = (s: string, lower = false) =>
  [...Buffer.from(s)]
    .map((b) => `%${b.toString(16).padStart(2, '0')[lower ? 'toLowerCase' : 'toUpperCase']()}`)
    .join('');

describe('createSecretScrubber', () => {
  test('replaces a key written plainly or JSON-escaped', () => {
    expect(scrub(`{"url":"/data?start=${ADMIN}"}`)).toBe('{"url":"/data?start=[redacted]"}');
    const quoted = createSecretScrubber(['key"with\\quote-0123456789abcdef']);
    expect(quoted(JSON.stringify({ body: 'key"with\\quote-0123456789abcdef' }))).toBe(
      '{"body":"[redacted]"}',
    );
  });

  // Regression (issue 16.9): `?t=admin%2Dkey...` was logged verbatim.
  const encodings: [string, (s: string) => string][] = [
    ['one character encoded', (s) => s.replace('-', '%2D')],
    ['lower-case hex', (s) => s.replaceAll('-', '%2d')],
    ['every byte encoded', (s) => encodeAll(s)],
    ['every byte encoded, lower case', (s) => encodeAll(s, true)],
    ['encodeURIComponent', (s) => encodeURIComponent(s)],
    ['encoded twice', (s) => encodeURIComponent(encodeAll(s))],
    ['first half encoded', (s) => encodeAll(s.slice(0, 10)) + s.slice(10)],
  ];
  for (const [name, encode] of encodings) {
    test(`replaces a percent-encoded key: ${name}`, () => {
      for (const key of [ADMIN, INGEST]) {
        const line = JSON.stringify({ msg: 'request', url: `/data?t=${encode(key)}&limit=5` });
        const out = scrub(line);
        expect(out, line).toBe(JSON.stringify({ msg: 'request', url: '/data?t=[redacted]&limit=5' }));
      }
    });
  }

  test('a key with a space is found where a form encoding wrote + for it, and non-ASCII keys by their UTF-8 bytes', () => {
    const spaced = createSecretScrubber(['pass phrase with spaces 1234', 'clé-secrète-0123456789']);
    expect(spaced('/x?k=pass+phrase+with%20spaces+1234')).toBe('/x?k=[redacted]');
    expect(spaced(`/x?k=${encodeURIComponent('clé-secrète-0123456789')}`)).toBe('/x?k=[redacted]');
  });

  test('leaves other lines alone, including ones with percent signs and partial matches', () => {
    for (const line of [
      '{"msg":"request","url":"/data?model=gpt%2D4o"}',
      `{"url":"/x?t=${encodeURIComponent(ADMIN.slice(0, -1))}"}`,
      '100% done %zz %',
    ]) {
      expect(scrub(line)).toBe(line);
    }
    expect(createSecretScrubber([])('anything %2D')).toBe('anything %2D');
  });

  test('several keys in one line are all replaced', () => {
    const line = `a=${encodeURIComponent(ADMIN)} b=${INGEST} c=${encodeAll(INGEST)}`;
    expect(scrub(line)).toBe('a=[redacted] b=[redacted] c=[redacted]');
  });
});
