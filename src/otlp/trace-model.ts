/**
 * One shape for an OTLP trace export, whichever encoding it came in (protobuf or JSON). Only what
 * usage needs is kept: ids, the end time, the scope, and attribute values that are scalars or
 * lists of scalars (nested key-value lists are dropped: no GenAI usage attribute uses them).
 */

export type AttributeValue = string | number | boolean | readonly (string | number | boolean)[];
export type Attributes = ReadonlyMap<string, AttributeValue>;

export interface TraceSpan {
  /** Lowercase hex, '' when absent. */
  traceId: string;
  spanId: string;
  name: string;
  /** Milliseconds since the epoch, UTC; null when absent or zero. */
  endTimeMs: number | null;
  /** null for a span without any GenAI attribute: it was skipped before its values were read. */
  attributes: Attributes | null;
}

export interface TraceScope {
  name: string;
  version: string;
  spans: TraceSpan[];
}

export interface TraceResource {
  attributes: Attributes;
  scopes: TraceScope[];
}

export interface TraceExport {
  resources: TraceResource[];
  spanCount: number;
}
