import type { AttributeValue, TraceExport, TraceResource, TraceScope, TraceSpan } from './trace-model.js';

/**
 * Walks an ExportTraceServiceRequest into a TraceExport. The same walk reads both encodings: the
 * message protobufjs decoded (camelCase fields, ids as bytes, 64-bit numbers as Long) and the
 * OTLP/JSON body (the same field names, ids as hex, 64-bit numbers as strings or numbers). JSON is
 * untrusted in shape as well as content, so every field is checked for its type and a field of the
 * wrong type reads as absent.
 *
 * A span's attribute values are read only when one of its keys names a GenAI attribute: other
 * spans (HTTP, database, ...) cost one pass over their keys.
 */

/** Attribute key prefixes of LLM usage: the GenAI semantic conventions and OpenLLMetry's older `llm.*`. */
const USAGE_PREFIXES = ['gen_ai.', 'llm.'] as const;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: unknown): readonly unknown[] => (Array.isArray(value) ? value : []);
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** A 64-bit integer as protobufjs (Long), OTLP/JSON (decimal string) or a plain number gives it. */
function int64(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') return /^-?\d+$/.test(value) ? Number(value) : null;
  if (isObject(value) && typeof value.low === 'number' && typeof value.high === 'number') {
    // Long: high * 2^32 + unsigned low. Exact below 2^53; nanosecond times lose a few hundred ns.
    const low = value.low >>> 0;
    return value.unsigned === true
      ? (value.high >>> 0) * 4_294_967_296 + low
      : value.high * 4_294_967_296 + low;
  }
  return null;
}

function nanosToMs(value: unknown): number | null {
  const nanos = int64(value);
  if (nanos === null || nanos <= 0) return null;
  return Math.floor(nanos / 1_000_000);
}

/** Trace and span ids: bytes in protobuf, hex in OTLP/JSON. */
function hexId(value: unknown): string {
  if (typeof value === 'string') return /^[0-9a-fA-F]{1,64}$/.test(value) ? value.toLowerCase() : '';
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  return '';
}

/**
 * An AnyValue's one set member. Own properties only: protobufjs keeps every member's default on the
 * message prototype and sets as own property only what was on the wire.
 */
function scalar(value: Json): string | number | boolean | undefined {
  if (Object.hasOwn(value, 'stringValue'))
    return typeof value.stringValue === 'string' ? value.stringValue : undefined;
  if (Object.hasOwn(value, 'intValue')) return int64(value.intValue) ?? undefined;
  if (Object.hasOwn(value, 'doubleValue'))
    return typeof value.doubleValue === 'number' ? value.doubleValue : undefined;
  if (Object.hasOwn(value, 'boolValue'))
    return typeof value.boolValue === 'boolean' ? value.boolValue : undefined;
  return undefined;
}

function attributeValue(value: unknown): AttributeValue | undefined {
  if (!isObject(value)) return undefined;
  const single = scalar(value);
  if (single !== undefined) return single;
  const array = Object.hasOwn(value, 'arrayValue') ? value.arrayValue : undefined;
  if (isObject(array)) {
    const items: (string | number | boolean)[] = [];
    for (const item of list(array.values)) {
      const itemValue = isObject(item) ? scalar(item) : undefined;
      if (itemValue !== undefined) items.push(itemValue);
    }
    return items;
  }
  return undefined;
}

function readAttributes(keyValues: readonly unknown[]): Map<string, AttributeValue> {
  const attributes = new Map<string, AttributeValue>();
  for (const keyValue of keyValues) {
    if (!isObject(keyValue) || typeof keyValue.key !== 'string') continue;
    const value = attributeValue(keyValue.value);
    if (value !== undefined) attributes.set(keyValue.key, value);
  }
  return attributes;
}

function hasUsageKey(keyValues: readonly unknown[]): boolean {
  for (const keyValue of keyValues) {
    const key = isObject(keyValue) ? keyValue.key : undefined;
    if (typeof key === 'string' && (key.startsWith(USAGE_PREFIXES[0]) || key.startsWith(USAGE_PREFIXES[1])))
      return true;
  }
  return false;
}

function readSpan(span: Json): TraceSpan {
  const keyValues = list(span.attributes);
  return {
    traceId: hexId(span.traceId),
    spanId: hexId(span.spanId),
    name: text(span.name),
    endTimeMs: nanosToMs(span.endTimeUnixNano),
    attributes: hasUsageKey(keyValues) ? readAttributes(keyValues) : null,
  };
}

/** `request` is a decoded protobuf message or a parsed JSON body. */
export function readTraceExport(request: unknown): TraceExport {
  const resources: TraceResource[] = [];
  let spanCount = 0;
  const root = isObject(request) ? request : {};
  for (const resourceSpans of list(root.resourceSpans)) {
    if (!isObject(resourceSpans)) continue;
    const resource = isObject(resourceSpans.resource) ? resourceSpans.resource : {};
    const scopes: TraceScope[] = [];
    for (const scopeSpans of list(resourceSpans.scopeSpans)) {
      if (!isObject(scopeSpans)) continue;
      const scope = isObject(scopeSpans.scope) ? scopeSpans.scope : {};
      const spans: TraceSpan[] = [];
      for (const span of list(scopeSpans.spans)) {
        spanCount += 1;
        // A span that is not an object has no attributes: it is ignored like any non-GenAI span.
        spans.push(readSpan(isObject(span) ? span : {}));
      }
      scopes.push({ name: text(scope.name), version: text(scope.version), spans });
    }
    resources.push({ attributes: readAttributes(list(resource.attributes)), scopes });
  }
  return { resources, spanCount };
}
