import fc from 'fast-check';
import type { JsonSchema, Route } from './routes.js';
import type { FuzzTarget, WireRequest } from './target.js';

/**
 * A JSON body as the fuzzer builds it: more than JSON.stringify can say (duplicate keys,
 * `__proto__` keys, numbers no double holds, nesting too deep to build recursively), and tracking
 * tokens named by index so that a request can be sent again to a restarted service.
 */
export type Json =
  | null
  | boolean
  | number
  | string
  | { t: 'raw'; text: string }
  | { t: 'obj'; entries: [string, Json][] }
  | { t: 'arr'; items: Json[] }
  | { t: 'deep'; depth: number; shape: 'object' | 'array'; leaf: Json }
  | { t: 'token'; index: number }
  | { t: 'hostile'; tag: string; value: Json };

export type BodySpec =
  | { kind: 'json'; value: Json }
  | { kind: 'text'; text: string; tag: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'large'; size: number };

export type AuthChoice =
  | 'none'
  | 'admin-key'
  | 'ingest-key'
  | 'metrics-bearer'
  | 'admin-key-as-ingest'
  | 'ingest-key-as-admin'
  | 'wrong-same-length'
  | 'wrong-long'
  | 'empty'
  | 'admin-key-as-bearer'
  | 'garbage-cookie'
  | 'key-with-junk';

/** One generated request: printable, and independent of the running service until resolved. */
export interface RequestSpec {
  /** The route it was aimed at, `POST /ingest`; the method or path may have been changed since. */
  route: string;
  method: string;
  path: string;
  query: [string, string][];
  auth: AuthChoice;
  headers: [string, string][];
  body?: BodySpec;
  contentType?: string;
}

const obj = (entries: [string, Json][]): Json => ({ t: 'obj', entries });
const raw = (text: string): Json => ({ t: 'raw', text });
const hostile = (tag: string, value: Json): Json => ({ t: 'hostile', tag, value });

/**
 * Serialises a Json; only `deep` nodes go deeper than the generators' few levels, and they loop.
 * `sketch` writes deep nesting as its depth, for printing.
 */
export function jsonText(value: Json, tokens: readonly { token: string }[], sketch = false): string {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'number' && !Number.isFinite(value) ? 'null' : JSON.stringify(value);
  }
  switch (value.t) {
    case 'raw':
      return value.text;
    case 'obj':
      return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v, tokens, sketch)}`).join(',')}}`;
    case 'arr':
      return `[${value.items.map((v) => jsonText(v, tokens, sketch)).join(',')}]`;
    case 'deep': {
      const [open, close] = value.shape === 'object' ? ['{"a":', '}'] : ['[', ']'];
      const leaf = jsonText(value.leaf, tokens, sketch);
      if (sketch) return `${open}…(${value.depth} levels of ${open}…${close})…${close}`;
      return `${open.repeat(value.depth)}${leaf}${close.repeat(value.depth)}`;
    }
    case 'token':
      return JSON.stringify(tokens[value.index % Math.max(1, tokens.length)]?.token ?? 'no-token');
    case 'hostile':
      return jsonText(value.value, tokens, sketch);
  }
}

/** The hostile generators a request used, for the summary ("deep-nesting", "duplicate-key"...). */
export function tagsOf(spec: RequestSpec): string[] {
  const tags = new Set<string>();
  const walk = (value: Json) => {
    if (value === null || typeof value !== 'object') return;
    if (value.t === 'hostile') {
      tags.add(value.tag);
      walk(value.value);
    } else if (value.t === 'obj') for (const [, v] of value.entries) walk(v);
    else if (value.t === 'arr') for (const v of value.items) walk(v);
    else if (value.t === 'deep') {
      tags.add('deep-nesting');
      walk(value.leaf);
    }
  };
  if (spec.body?.kind === 'json') walk(spec.body.value);
  else if (spec.body?.kind === 'text') tags.add(spec.body.tag);
  else if (spec.body) tags.add(spec.body.kind === 'bytes' ? 'non-utf8-bytes' : 'oversized-body');
  if (spec.auth !== 'admin-key' && spec.auth !== 'ingest-key' && spec.auth !== 'metrics-bearer')
    tags.add(`auth:${spec.auth}`);
  return [...tags];
}

const short = (text: string, max = 200) =>
  text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;

/** How a counterexample is printed: the request line, its auth and headers, the body shortened. */
export function describe(spec: RequestSpec): string {
  const query = spec.query.map(([k, v]) => `${k}=${v}`).join('&');
  const lines = [
    `${spec.method} ${short(spec.path + (query ? `?${query}` : ''))}   [aimed at ${spec.route}]`,
  ];
  lines.push(
    `  auth: ${spec.auth}${spec.contentType === undefined ? '' : `, content-type: ${JSON.stringify(spec.contentType)}`}`,
  );
  if (spec.headers.length > 0) lines.push(`  headers: ${short(JSON.stringify(spec.headers))}`);
  if (spec.body?.kind === 'json')
    lines.push(`  body: ${short(jsonText(spec.body.value, [{ token: '<token>' }], true), 400)}`);
  else if (spec.body?.kind === 'text')
    lines.push(`  body (${spec.body.tag}): ${short(JSON.stringify(spec.body.text), 400)}`);
  else if (spec.body?.kind === 'bytes')
    lines.push(
      `  body: ${spec.body.bytes.length} bytes ${Buffer.from(spec.body.bytes).toString('hex').slice(0, 80)}`,
    );
  else if (spec.body?.kind === 'large') lines.push(`  body: ${spec.body.size} bytes of valid JSON`);
  const tags = tagsOf(spec);
  if (tags.length > 0) lines.push(`  hostile: ${tags.join(', ')}`);
  return lines.join('\n');
}

/** Resolves a spec against a running service: keys, tracking tokens, the body's bytes. */
export function toWire(spec: RequestSpec, target: FuzzTarget): WireRequest {
  const { keys } = target;
  const headers: Record<string, string> = {};
  const auth: Record<AuthChoice, () => void> = {
    none: () => {},
    'admin-key': () => {
      headers['x-api-key'] = keys.admin;
    },
    'ingest-key': () => {
      headers['x-ingest-key'] = keys.ingest;
    },
    'metrics-bearer': () => {
      headers.authorization = `Bearer ${keys.metrics}`;
    },
    'admin-key-as-ingest': () => {
      headers['x-ingest-key'] = keys.admin;
    },
    'ingest-key-as-admin': () => {
      headers['x-api-key'] = keys.ingest;
    },
    'wrong-same-length': () => {
      headers['x-api-key'] = `${keys.admin.slice(0, -1)}x`;
      headers['x-ingest-key'] = `${keys.ingest.slice(0, -1)}x`;
    },
    'wrong-long': () => {
      headers['x-api-key'] = 'k'.repeat(8000);
      headers.authorization = `Bearer ${'t'.repeat(8000)}`;
    },
    empty: () => {
      headers['x-api-key'] = '';
      headers['x-ingest-key'] = '';
      headers.authorization = '';
    },
    'admin-key-as-bearer': () => {
      headers.authorization = `Bearer ${keys.admin}`;
    },
    'garbage-cookie': () => {
      headers.cookie = 'cg_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; cg_session=x; =;;';
      headers['x-csrf-token'] = 'not-a-token';
    },
    'key-with-junk': () => {
      headers['x-api-key'] = `${keys.admin}\t junk`;
      headers['x-ingest-key'] = ` ${keys.ingest}\u00ff`;
    },
  };
  auth[spec.auth]();
  for (const [name, value] of spec.headers) headers[name] = value.replace('<allowed-origin>', keys.origin);
  if (spec.contentType !== undefined && spec.contentType !== '') headers['content-type'] = spec.contentType;
  let body: Buffer | undefined;
  if (spec.body?.kind === 'json') body = Buffer.from(jsonText(spec.body.value, target.tokens));
  else if (spec.body?.kind === 'text') body = Buffer.from(spec.body.text);
  else if (spec.body?.kind === 'bytes') body = Buffer.from(spec.body.bytes);
  else if (spec.body?.kind === 'large') {
    const filler = 'x'.repeat(Math.max(0, spec.body.size - 9));
    body = Buffer.from(`{"a":"${filler}"}`);
  }
  const query = spec.query.map(([k, v]) => `${k}=${v}`).join('&');
  return {
    method: spec.method,
    path: spec.path + (query ? `?${query}` : ''),
    headers,
    ...(body ? { body } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Values

const NAUGHTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0x10',
  '1e309',
  "' OR 1=1 --",
  '"; DROP TABLE usage_log; --',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%s%s%s%n',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the attack.
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  '\u202egnp.exe',
  '👩‍👩‍👧‍👦🏳️‍🌈',
  'Ω≈ç√∫',
  '\ud800',
  '\udfff\ud800',
  '\r\n\r\nHTTP/1.1 200 OK',
  '=cmd|/C calc!A0',
  '+SUM(1+1)',
  '@SUM(1+1)',
  '2026-02-30T00:00:00Z',
  '2026-11-20T10:00:00+25:00',
  '9999-12-31T23:59:59.999Z',
  '0000-01-01T00:00:00Z',
  '-271821-04-20T00:00:00Z',
  '2026-11-20',
  '1763632800',
  'gpt-4o-mini\u0000',
  'a'.repeat(201),
  '(a|a)*$',
  '^([a-z0-9]|[a-z])*-mini$',
] as const;

const MODELS = [
  'gpt-4o-mini',
  'gpt-4o',
  'gpt-4o-mini-2024-07-18',
  'o3',
  'claude-3-5-sonnet',
  'text-embedding-3-small',
  'model-without-price',
];

const hostileNumber: fc.Arbitrary<Json> = fc
  .constantFrom<Json>(
    raw('1e400'),
    raw('-1e400'),
    raw('-0'),
    raw('1.0'),
    raw('1E2'),
    raw('9007199254740993'),
    raw('123456789012345678901234567890'),
    raw('0.1e-400'),
    1.5,
    -1,
    2 ** 31,
    2 ** 53,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    10_000_000_001,
  )
  .map((v) => hostile('huge-or-odd-number', v));

const longString: fc.Arbitrary<Json> = fc
  .tuple(
    fc.constantFrom(257, 1000, 10_000, 100_000, 600_000),
    fc.constantFrom('a', 'é', '€', '𝕏', '\\', '"', '\u0000'),
  )
  .map(([n, c]) => hostile('long-string', c.repeat(n)));

const unicodeString: fc.Arbitrary<Json> = fc
  .oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }))
  .map((s) => hostile('unicode', s));

const naughtyString: fc.Arbitrary<Json> = fc
  .constantFrom(...NAUGHTY_STRINGS)
  .map((s) => hostile('naughty-string', s));

/** Nesting the record normaliser must survive (issue 16: ~5,000 levels answered 500). */
export const deepNesting: fc.Arbitrary<Json> = fc
  .record({
    depth: fc.integer({ min: 1, max: 20_000 }),
    shape: fc.constantFrom<'object' | 'array'>('object', 'array'),
  })
  .map(({ depth, shape }): Json => ({ t: 'deep', depth, shape, leaf: 1 }));

const wrongType: fc.Arbitrary<Json> = fc
  .constantFrom<Json>(true, false, null, 0, -1, '', '0', 'true', { t: 'arr', items: [] }, obj([]), {
    t: 'arr',
    items: [1, 'a'],
  })
  .map((v) => hostile('wrong-type', v));

const protoKeys: fc.Arbitrary<Json> = fc
  .constantFrom<Json>(
    obj([['__proto__', obj([['polluted', true]])]]),
    obj([['constructor', obj([['prototype', obj([['polluted', true]])]])]]),
    obj([['prototype', obj([['polluted', true]])]]),
  )
  .map((v) => hostile('prototype-pollution', v));

const wide: fc.Arbitrary<Json> = fc
  .constantFrom(1000, 100_000)
  .chain((n) =>
    fc.constantFrom(
      hostile('wide-array', raw(`[${'0,'.repeat(n - 1)}0]`)),
      hostile(
        'wide-object',
        raw(`{${Array.from({ length: Math.min(n, 20_000) }, (_, i) => `"k${i}":${i}`).join(',')}}`),
      ),
    ),
  );

function fromJs(value: unknown): Json {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string')
    return value;
  if (Array.isArray(value)) return { t: 'arr', items: value.map(fromJs) };
  if (typeof value === 'object') return obj(Object.entries(value).map(([k, v]) => [k, fromJs(v)]));
  return null;
}

const smallJson: fc.Arbitrary<Json> = fc.jsonValue({ maxDepth: 3 }).map(fromJs);

/** Any value a field should never accept (and some it should). */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { arbitrary: wrongType, weight: 4 },
  { arbitrary: hostileNumber, weight: 3 },
  { arbitrary: naughtyString, weight: 3 },
  { arbitrary: unicodeString, weight: 2 },
  { arbitrary: longString, weight: 1 },
  { arbitrary: deepNesting, weight: 2 },
  { arbitrary: protoKeys, weight: 1 },
  { arbitrary: wide, weight: 1 },
  { arbitrary: smallJson, weight: 2 },
);

// ---------------------------------------------------------------------------------------------
// Values that fit a schema (so that requests get past validation and into the handlers)

const isoTime = fc
  .integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2026, 0, 1) })
  .chain((ms) =>
    fc.constantFrom(
      new Date(ms).toISOString(),
      new Date(ms).toISOString().slice(0, 10),
      new Date(ms).toISOString().replace('Z', '+02:00'),
    ),
  );

function byName(name: string): fc.Arbitrary<Json> | undefined {
  if (name === 'tracking_token' || name === 'trackingToken')
    return fc.oneof(
      { arbitrary: fc.nat(2).map((index): Json => ({ t: 'token', index })), weight: 9 },
      { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
    );
  if (name === 'model')
    return fc.oneof({ arbitrary: fc.constantFrom(...MODELS), weight: 4 }, fc.string({ maxLength: 30 }));
  if (name === 'api') return fc.constantFrom('chat', 'completions', 'embeddings', 'responses');
  if (['timestamp', 'at', 'start', 'end', 'created_at'].includes(name)) return isoTime;
  if (/_tokens$|Tokens$/.test(name)) return fc.integer({ min: 0, max: 5000 });
  return undefined;
}

export function fromSchema(schema: JsonSchema, name = '', depth = 0): fc.Arbitrary<Json> {
  const named = byName(name);
  if (named && depth > 0) return named;
  if (schema.const !== undefined) return fc.constant(fromJs(schema.const));
  if (schema.enum) return fc.constantFrom(...schema.enum.map(fromJs));
  const choices = schema.anyOf ?? schema.oneOf;
  if (choices && choices.length > 0) return fc.oneof(...choices.map((s) => fromSchema(s, name, depth)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      if (depth > 3) return fc.constant(obj([]));
      const properties = Object.entries(schema.properties ?? {});
      const names = new Set(properties.map(([key]) => key));
      // A record needs its tracking token to get anywhere, though the schema allows its alias.
      const required = new Set([
        ...(schema.required ?? []),
        ...['tracking_token'].filter((k) => names.has(k)),
      ]);
      const fields = properties.map(([key, sub]) => {
        const field = fromSchema(sub, key, depth + 1).map((v): [string, Json] => [key, v]);
        // Optional fields are mostly left out, camelCase aliases nearly always: each one (an
        // alias, a total) is one more way for a record to disagree with itself.
        const isAlias = /[A-Z]/.test(key) && names.has(key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
        return required.has(key)
          ? field
          : fc.oneof(
              { arbitrary: fc.constant(undefined), weight: isAlias ? 49 : 7 },
              { arbitrary: field, weight: 1 },
            );
      });
      const values =
        typeof schema.additionalProperties === 'object'
          ? fromSchema(schema.additionalProperties, '', depth + 1)
          : smallJson;
      const extra =
        schema.additionalProperties === false || properties.length > 0
          ? fc.constant([] as [string, Json][])
          : fc.array(fc.tuple(fc.string({ maxLength: 12 }), values), { maxLength: 3 });
      return fc
        .tuple(fc.tuple(...fields), extra)
        .map(([picked, more]) =>
          obj([...picked.filter((f): f is [string, Json] => f !== undefined), ...more]),
        );
    }
    case 'array': {
      const items = schema.items ? fromSchema(schema.items, name, depth + 1) : smallJson;
      return fc
        .array(items, {
          minLength: Math.min(schema.minItems ?? 0, 3),
          maxLength: Math.min(schema.maxItems ?? 4, 4),
        })
        .map((values): Json => ({ t: 'arr', items: values }));
    }
    case 'string':
      if (schema.format === 'date-time' || schema.format === 'date') return isoTime;
      return fc.string({
        minLength: schema.minLength ?? 0,
        maxLength: Math.max(schema.minLength ?? 0, Math.min(schema.maxLength ?? 30, 30)),
      });
    case 'integer':
      return fc.integer({
        min: Math.max(schema.minimum ?? -5, -1_000_000),
        max: Math.min(schema.maximum ?? 100_000, 100_000),
      });
    case 'number':
      return fc.double({
        min: Math.max(schema.minimum ?? -1000, -1e6),
        max: Math.min(schema.maximum ?? 1e6, 1e6),
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return smallJson;
  }
}

/** Puts `deep` under `key` of a body, or of the first record of a batch body. */
function nestInto(body: Json, key: string, deep: Json): Json {
  if (body === null || typeof body !== 'object' || body.t !== 'obj') return body;
  const records = body.entries.find(([k]) => k === 'records')?.[1];
  if (
    records &&
    typeof records === 'object' &&
    records !== null &&
    records.t === 'arr' &&
    records.items.length > 0
  ) {
    const [first, ...rest] = records.items;
    const nested: Json = { t: 'arr', items: [nestInto(first ?? null, key, deep), ...rest] };
    return obj(body.entries.map(([k, v]): [string, Json] => [k, k === 'records' ? nested : v]));
  }
  return obj([...body.entries.filter(([k]) => k !== key), [key, deep]]);
}

/** Changes to a body that fits the schema: a bad value, a missing or extra key, a duplicated key. */
type Mutation =
  | { op: 'set'; pick: number; value: Json }
  | { op: 'delete'; pick: number }
  | { op: 'add'; key: string; value: Json }
  | { op: 'duplicate'; pick: number; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant('set' as const), pick: fc.nat(), value: hostileValue }),
    weight: 5,
  },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      key: fc.oneof(
        fc.constantFrom('__proto__', 'constructor', 'prototype', 'meta', 'usage', 'tags', 'records'),
        fc.string({ maxLength: 10 }),
      ),
      value: hostileValue,
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant('duplicate' as const), pick: fc.nat(), value: hostileValue }),
    weight: 1,
  },
  // Nesting where the record normaliser walks it (issue 16.2: ~5,000 levels in meta or usage answered 500).
  {
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      key: fc.constantFrom('meta', 'usage'),
      value: deepNesting,
    }),
    weight: 2,
  },
);

/** Half of the shaped bodies are left as they are, so that requests also get all the way through. */
const mutations = (max: number) =>
  fc.oneof(fc.constant([] as Mutation[]), fc.array(mutation, { minLength: 1, maxLength: max }));

function applyMutation(body: Json, m: Mutation): Json {
  if (body === null || typeof body !== 'object' || body.t !== 'obj')
    return m.op === 'delete' ? body : hostile('replaced-body', 'value' in m ? m.value : null);
  const entries = [...body.entries];
  const at = entries.length > 0 && 'pick' in m ? m.pick % entries.length : -1;
  const key = at >= 0 ? (entries[at]?.[0] ?? 'x') : 'x';
  switch (m.op) {
    case 'set':
      if (at >= 0) entries[at] = [key, m.value];
      else entries.push(['model', m.value]);
      break;
    case 'delete':
      if (at >= 0) entries.splice(at, 1);
      break;
    case 'add':
      entries.push([m.key, m.value]);
      break;
    case 'duplicate':
      entries.push([key, hostile('duplicate-key', m.value)]);
      break;
  }
  return obj(entries);
}

const INVALID_JSON = [
  '',
  '{',
  '{"a":',
  '[1,2',
  'null',
  'true',
  '"text"',
  '123',
  '{"a":1}garbage',
  '{"a":1}{"b":2}',
  "{'model':'x'}",
  '{model:"x"}',
  '\uFEFF{"model":"gpt-4o"}',
  '{"model":"gpt-4o"}\u0000',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":01}',
  '{"a":"\\u00"}',
  '{"a":"\\ud800"}',
  '{"a":"\\x41"}',
  '\n\n',
  '  {}  ',
  '{"__proto__":{"polluted":true},"model":"gpt-4o"}',
  '{"constructor":{"prototype":{"polluted":true}}}',
];

const wholeBody: fc.Arbitrary<BodySpec> = fc.oneof(
  { arbitrary: hostileValue.map((value): BodySpec => ({ kind: 'json', value })), weight: 6 },
  {
    arbitrary: fc
      .constantFrom(...INVALID_JSON)
      .map((text): BodySpec => ({ kind: 'text', text, tag: 'malformed-json' })),
    weight: 4,
  },
  {
    arbitrary: fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((bytes): BodySpec => ({ kind: 'bytes', bytes })),
    weight: 1,
  },
  {
    arbitrary: fc
      .constantFrom(1024 * 1024 - 64, 1024 * 1024 + 1, 3 * 1024 * 1024)
      .map((size): BodySpec => ({ kind: 'large', size })),
    weight: 1,
  },
);

function bodyFor(route: Route): fc.Arbitrary<BodySpec | undefined> {
  if (!route.body) {
    return fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: wholeBody, weight: 1 });
  }
  const schema = route.body;
  const shaped = fc
    .tuple(fromSchema(schema), mutations(3), mutations(2))
    .map(([value, mutations, recordMutations]): BodySpec => {
      let body = mutations.reduce(applyMutation, value);
      // A batch's records are where per-record handling lives: mutate the first record too.
      if (body !== null && typeof body === 'object' && body.t === 'obj') {
        body = obj(
          body.entries.map(([k, v]): [string, Json] => {
            if (
              k !== 'records' ||
              v === null ||
              typeof v !== 'object' ||
              v.t !== 'arr' ||
              v.items.length === 0
            )
              return [k, v];
            const [first, ...rest] = v.items;
            return [k, { t: 'arr', items: [recordMutations.reduce(applyMutation, first ?? null), ...rest] }];
          }),
        );
      }
      return { kind: 'json', value: body };
    });
  return fc.oneof({ arbitrary: shaped, weight: 11 }, { arbitrary: wholeBody, weight: 9 });
}

// ---------------------------------------------------------------------------------------------
// Request lines and headers

const headerText = fc.string({
  unit: fc
    .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }))
    .map((c) => String.fromCharCode(c)),
  maxLength: 60,
});

const encode = (text: string) => encodeURIComponent(text);

const oddEncodings = fc.constantFrom(
  '%zz',
  '%',
  '%E0%A4',
  '%00',
  '%C0%AF',
  '%FF%FE',
  '+',
  '%2e%2e%2f',
  '%25',
  '%u0041',
  '[]',
  '{}',
);

function queryValue(schema: JsonSchema, name: string): fc.Arbitrary<string> {
  const fitting = fromSchema(schema, name, 1).map((v) =>
    encode(
      typeof v === 'string'
        ? v
        : v === null || typeof v !== 'object'
          ? String(v)
          : jsonText(v, [{ token: 'x' }]),
    ),
  );
  return fc.oneof(
    { arbitrary: fitting, weight: 6 },
    // Capped so that most requests fit Node's 16 KiB request head; `oversizedHead` goes past it.
    {
      arbitrary: hostileValue.map((v) =>
        encode(typeof v === 'string' ? v : jsonText(v, [{ token: 'x' }])).slice(0, 3000),
      ),
      weight: 3,
    },
    { arbitrary: oddEncodings, weight: 1 },
  );
}

function queryFor(route: Route): fc.Arbitrary<[string, string][]> {
  const known = Object.entries(route.query).map(([name, schema]) =>
    fc.option(
      fc
        .array(queryValue(schema, name), { minLength: 1, maxLength: 2 })
        .map((values) => values.map((v): [string, string] => [name, v])),
      { freq: 2, nil: undefined },
    ),
  );
  const extra = fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          '__proto__',
          '__proto__[polluted]',
          'constructor[prototype][polluted]',
          'limit[]',
          'format',
          'a.b',
          '',
        ),
        fc.string({ maxLength: 8 }).map(encode),
      ),
      fc.oneof(fc.string({ maxLength: 12 }).map(encode), oddEncodings),
    ),
    { maxLength: 2 },
  );
  return fc
    .tuple(fc.tuple(...known), extra)
    .map(([picked, more]) => [...picked.flatMap((p) => p ?? []), ...more]);
}

function pathParam(schema: JsonSchema, name: string): fc.Arbitrary<string> {
  const fitting =
    name === 'id'
      ? fc.integer({ min: 1, max: 4 }).map(String)
      : name === 'file'
        ? fc.constantFrom(
            'index.js',
            'missing.js',
            'x.css',
            'index.js.br',
            '..%2f..%2fpackage.json',
            '%2e%2e',
            'a'.repeat(300),
          )
        : fromSchema(schema, name, 1).map((v) => encode(String(typeof v === 'object' ? 'x' : v)));
  return fc.oneof(
    { arbitrary: fitting, weight: 6 },
    {
      arbitrary: fc.constantFrom(
        '0',
        '-1',
        '9007199254740993',
        '1e400',
        '1.5',
        '0x10',
        'abc',
        '%20',
        '%00',
        '9'.repeat(400),
        '..',
        '%2F',
        'null',
      ),
      weight: 3,
    },
    { arbitrary: fc.string({ maxLength: 20 }).map(encode), weight: 1 },
  );
}

function pathFor(route: Route): fc.Arbitrary<string> {
  const filled = fillPath(route, (name) => pathParam(route.params[name] ?? {}, name));
  const twisted = fc
    .tuple(
      filled,
      fc.constantFrom(
        'trailing-slash',
        'double-slash',
        'upper',
        'dot-segment',
        'encoded-letter',
        'suffix',
        'long',
        'oversized-head',
      ),
    )
    .map(([path, how]) => {
      switch (how) {
        case 'trailing-slash':
          return `${path}/`;
        case 'double-slash':
          return `/${path}`;
        case 'upper':
          return path.toUpperCase();
        case 'dot-segment':
          return `/.${path}/..${path}`;
        case 'encoded-letter':
          return path.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
        case 'suffix':
          return `${path}/x;a=b`;
        case 'long':
          return `${path}/${'a'.repeat(9000)}`;
        default:
          // Past Node's 16 KiB limit on a request head: its parser answers, not a route.
          return `${path}/${'a'.repeat(20_000)}`;
      }
    });
  return fc.oneof({ arbitrary: filled, weight: 17 }, { arbitrary: twisted, weight: 3 });
}

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'SEARCH',
  'PURGE',
];

function authFor(route: Route): fc.Arbitrary<AuthChoice> {
  const right = rightAuth(route);
  const wrong = fc.constantFrom<AuthChoice>(
    'none',
    'admin-key-as-ingest',
    'ingest-key-as-admin',
    'wrong-same-length',
    'wrong-long',
    'empty',
    'admin-key-as-bearer',
    'garbage-cookie',
    'key-with-junk',
    route.auth === 'metrics' ? 'admin-key' : 'metrics-bearer',
  );
  return fc.oneof({ arbitrary: fc.constant(right), weight: 3 }, { arbitrary: wrong, weight: 1 });
}

const extraHeaders: fc.Arbitrary<[string, string][]> = fc.array(
  fc.oneof(
    fc.tuple(fc.constant('origin'), fc.constantFrom('<allowed-origin>', 'https://evil.example', 'null', '')),
    fc.tuple(
      fc.constant('x-forwarded-for'),
      fc.constantFrom('1.2.3.4', '::1, 10.0.0.1', 'garbage', '999.999.999.999'),
    ),
    fc.tuple(fc.constant('x-forwarded-proto'), fc.constantFrom('https', 'gopher', '')),
    fc.tuple(
      fc.constant('accept'),
      fc.constantFrom('text/csv', '*/*', 'application/x-ndjson', 'text/event-stream', 'garbage'),
    ),
    fc.tuple(
      fc.constant('accept-encoding'),
      fc.constantFrom('br', 'gzip, deflate', 'identity;q=0', '*;q=0', 'x'),
    ),
    fc.tuple(fc.constant('access-control-request-method'), fc.constantFrom('POST', 'DELETE', 'FOO')),
    fc.tuple(fc.constant('range'), fc.constantFrom('bytes=0-10', 'bytes=999999-', 'bytes=5-1', 'items=0-1')),
    fc.tuple(fc.constant('if-none-match'), fc.constantFrom('*', '"x"', 'W/"y"')),
    fc.tuple(fc.constantFrom('x-request-id', 'user-agent', 'x-csrf-token', 'cookie'), headerText),
  ),
  { maxLength: 3 },
);

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/vnd.api+json',
  'application/json, text/plain',
  '',
];

/** What one request bends; the rest of it is what a correct client sends. */
type Focus = 'body' | 'nesting' | 'query' | 'path' | 'method' | 'auth' | 'headers' | 'chaos';

const FOCUS: fc.Arbitrary<Focus> = fc.oneof(
  { arbitrary: fc.constant<Focus>('body'), weight: 6 },
  // A correct body with deep nesting where the handlers walk it (meta, usage; a batch's records).
  { arbitrary: fc.constant<Focus>('nesting'), weight: 1 },
  { arbitrary: fc.constant<Focus>('query'), weight: 2 },
  { arbitrary: fc.constant<Focus>('path'), weight: 1 },
  { arbitrary: fc.constant<Focus>('method'), weight: 1 },
  { arbitrary: fc.constant<Focus>('auth'), weight: 2 },
  { arbitrary: fc.constant<Focus>('headers'), weight: 1 },
  // Everything bent at once.
  { arbitrary: fc.constant<Focus>('chaos'), weight: 2 },
);

const rightAuth = (route: Route): AuthChoice =>
  route.auth === 'ingest' ? 'ingest-key' : route.auth === 'metrics' ? 'metrics-bearer' : 'admin-key';

function fillPath(route: Route, param: (name: string) => fc.Arbitrary<string>): fc.Arbitrary<string> {
  const names = [...route.url.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1] ?? '');
  return fc
    .tuple(
      ...names.map(param),
      fc.string({ maxLength: 30 }).map((s) => s.split('/').map(encode).join('/')),
    )
    .map((values) => {
      let i = 0;
      const path = route.url
        .replace(/:([A-Za-z_]+)/g, () => values[i++] ?? '')
        .replace('*', values[names.length] ?? '');
      return path.startsWith('/') ? path : `/${path}`;
    });
}

/**
 * Requests aimed at one route. Each bends one thing (its body, query, path, method, auth or
 * headers) and sends the rest as a correct client would, so that a bad value gets as deep as it
 * can; a share bends everything at once.
 */
export function requestFor(route: Route): fc.Arbitrary<RequestSpec> {
  const fittingPath = fillPath(route, (name) =>
    name === 'id' ? fc.integer({ min: 1, max: 3 }).map(String) : fc.constantFrom('index.js', 'x.css'),
  );
  const fittingQuery = fc
    .tuple(
      ...Object.entries(route.query).map(([name, schema]) =>
        fc.oneof(
          { arbitrary: fc.constant(undefined), weight: 2 },
          {
            arbitrary: fromSchema(schema, name, 1).map((v): [string, string] => [
              name,
              encode(typeof v === 'object' && v !== null ? 'x' : String(v)),
            ]),
            weight: 1,
          },
        ),
      ),
    )
    .map((picked) => picked.filter((p): p is [string, string] => p !== undefined));
  const fittingBody: fc.Arbitrary<BodySpec | undefined> = route.body
    ? fromSchema(route.body).map((value): BodySpec => ({ kind: 'json', value }))
    : fc.constant(undefined);
  const nestedBody: fc.Arbitrary<BodySpec | undefined> = route.body
    ? fc
        .tuple(fromSchema(route.body), fc.constantFrom('meta', 'usage'), deepNesting)
        .map(([value, key, deep]): BodySpec => ({ kind: 'json', value: nestInto(value, key, deep) }))
    : fc.constant(undefined);
  return FOCUS.chain((focus) => {
    const bend = (dimension: Focus) => focus === dimension || focus === 'chaos';
    if (focus === 'nesting') {
      return fc.record({ body: nestedBody }).map(({ body }) => {
        const spec: RequestSpec = {
          route: `${route.method} ${route.url}`,
          method: route.method,
          path: route.url.replace(/:([A-Za-z_]+)/g, '1').replace('*', ''),
          query: [],
          auth: rightAuth(route),
          headers: [],
          ...(body ? { body, contentType: 'application/json' } : {}),
        };
        return Object.assign(spec, { [fc.toStringMethod]: () => describe(spec) });
      });
    }
    return fc
      .record({
        method: bend('method') ? fc.constantFrom(...METHODS) : fc.constant(route.method),
        path: bend('path') ? pathFor(route) : fittingPath,
        query: bend('query') ? queryFor(route) : fittingQuery,
        auth: bend('auth') ? authFor(route) : fc.constant(rightAuth(route)),
        headers: bend('headers') ? extraHeaders : fc.constant([] as [string, string][]),
        body: bend('body') ? bodyFor(route) : fittingBody,
        contentType: bend('headers')
          ? fc.constantFrom(...CONTENT_TYPES)
          : focus === 'chaos'
            ? fc.oneof(
                { arbitrary: fc.constant('application/json'), weight: 4 },
                { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 1 },
              )
            : fc.constant('application/json'),
      })
      .map((r) => {
        const spec: RequestSpec = {
          route: `${route.method} ${route.url}`,
          method: r.method,
          path: r.path,
          query: r.query,
          auth: r.auth,
          headers: r.headers,
          ...(r.body ? { body: r.body, contentType: r.contentType } : {}),
        };
        return Object.assign(spec, { [fc.toStringMethod]: () => describe(spec) });
      });
  });
}

/**
 * A request as a correct client sends it (right method, path, auth and a body that fits the
 * schema): under a fault, writes must get as far as the store.
 */
export function wellFormedRequestFor(route: Route): fc.Arbitrary<RequestSpec> {
  const names = [...route.url.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1] ?? '');
  return fc
    .record({
      params: fc.tuple(...names.map(() => fc.integer({ min: 1, max: 3 }))),
      body: route.body ? fromSchema(route.body) : fc.constant(undefined),
    })
    .map(({ params, body }) => {
      let i = 0;
      const spec: RequestSpec = {
        route: `${route.method} ${route.url}`,
        method: route.method,
        path: route.url.replace(/:([A-Za-z_]+)/g, () => String(params[i++] ?? 1)),
        query: [],
        auth: rightAuth(route),
        headers: [],
        ...(body === undefined
          ? {}
          : { body: { kind: 'json' as const, value: body }, contentType: 'application/json' }),
      };
      return Object.assign(spec, { [fc.toStringMethod]: () => describe(spec) });
    });
}

/**
 * Requests over the whole route table. Routes that take a body weigh more (most of the input
 * handling is there), HEAD and OPTIONS less (they mirror other routes).
 */
export function anyRequest(routes: readonly Route[]): fc.Arbitrary<RequestSpec> {
  return fc.oneof(
    ...routes.map((route) => ({
      arbitrary: requestFor(route),
      weight: route.body ? 6 : route.method === 'HEAD' || route.method === 'OPTIONS' ? 1 : 2,
    })),
  );
}
