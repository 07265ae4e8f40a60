import type { IngestService, RecordResult } from '../ingest/ingest-service.js';
import { TRACKING_TOKEN_ATTRIBUTE, usageFromSpan } from './genai-usage.js';
import type { TraceExport } from './trace-model.js';

/**
 * OTLP trace exports to usage records. Every GenAI span with token usage becomes one record and
 * goes through the same pipeline as POST /ingest/batch (validate, normalise, tracking token, rate
 * limit, price, group-committed write, dedup on (token, event_id)), with source 'otlp'. Spans
 * without GenAI usage are ignored: they are not errors, and are not reported as rejected.
 */

export interface OtlpExportResult {
  /** Spans stored, or already stored (a resent export). */
  acceptedSpans: number;
  /** GenAI spans that could not be stored: ExportTracePartialSuccess.rejected_spans. */
  rejectedSpans: number;
  /** Why, grouped by reason; '' when nothing was rejected. */
  errorMessage: string;
  /** Set when the rate limit refused spans: how long until the whole export fits again. */
  retryAfterMs: number | null;
}

export interface OtlpService {
  /** Ingests what collectUsage found in an export. */
  export(collected: Collected): Promise<OtlpExportResult>;
}

const MAX_REASONS_LISTED = 5;
const NO_TOKEN = `no tracking token: send the X-Tracking-Token header or the ${TRACKING_TOKEN_ATTRIBUTE} resource attribute`;

function rejectionMessage(reasons: Map<string, number>, rejected: number, genAiSpans: number): string {
  if (rejected === 0) return '';
  const listed = [...reasons]
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_REASONS_LISTED)
    .map(([reason, count]) => `${reason} (${count})`);
  const more = reasons.size > MAX_REASONS_LISTED ? `; ${reasons.size - MAX_REASONS_LISTED} more reasons` : '';
  return `${rejected} of ${genAiSpans} GenAI spans rejected: ${listed.join('; ')}${more}`;
}

/** What an export asks for: the records to ingest, and the spans already settled. */
interface Collected {
  records: Record<string, unknown>[];
  reasons: Map<string, number>;
  rejected: number;
  genAiSpans: number;
}

/**
 * Synchronous on purpose: the decoded export (many small objects per span) becomes garbage before
 * the caller awaits the write, instead of surviving into the old generation while the group
 * commit and fsync run. It cost more GC than everything else on the OTLP path together.
 */
export function collectUsage(request: TraceExport, headerToken: string | undefined): Collected {
  const collected: Collected = {
    records: [],
    reasons: new Map(),
    rejected: 0,
    genAiSpans: request.spanCount,
  };
  for (const resource of request.resources) {
    const fromResource = resource.attributes.get(TRACKING_TOKEN_ATTRIBUTE);
    const token = typeof fromResource === 'string' && fromResource !== '' ? fromResource : headerToken;
    for (const scope of resource.scopes) {
      const context = { scopeName: scope.name, scopeVersion: scope.version, resource: resource.attributes };
      for (const span of scope.spans) {
        const verdict = usageFromSpan(span, context);
        if (verdict.kind === 'ignored') collected.genAiSpans -= 1;
        else if (verdict.kind === 'rejected') reject(collected, verdict.reason);
        else if (!token) reject(collected, NO_TOKEN);
        else {
          // Assigned, not spread into a copy: the copy came out as a slow-mode object that cost the
          // schema check and the normaliser ten times their time (bench/README.md).
          const record: Record<string, unknown> = verdict.body as unknown as Record<string, unknown>;
          record.tracking_token = token;
          collected.records.push(record);
        }
      }
    }
  }
  return collected;
}

function reject(collected: Collected, reason: string): void {
  collected.rejected += 1;
  collected.reasons.set(reason, (collected.reasons.get(reason) ?? 0) + 1);
}

export function createOtlpService(deps: {
  ingest: IngestService;
  /** The per-token ingest refill rate, to size Retry-After for a resend of the whole export. */
  ingestRatePerMinute: number;
}): OtlpService {
  return {
    async export(collected) {
      const { records } = collected;
      let accepted = 0;
      let retryAfterMs: number | null = null;
      if (records.length > 0) {
        const outcome = await deps.ingest.ingestBatch(records, { source: 'otlp' });
        for (const result of outcome.results as RecordResult[]) {
          if (result.status !== 'rejected') accepted += 1;
          else reject(collected, `${result.code}: ${result.reason}`);
        }
        if (outcome.retryAfterMs !== null) {
          // The exporter resends the whole export: the spans stored now come back as duplicates
          // and count against the rate limit again, so the wait covers every one of them.
          const refillMs = Math.ceil((records.length * 60_000) / deps.ingestRatePerMinute);
          retryAfterMs = Math.max(outcome.retryAfterMs, refillMs);
        }
      }
      return {
        acceptedSpans: accepted,
        rejectedSpans: collected.rejected,
        errorMessage: rejectionMessage(collected.reasons, collected.rejected, collected.genAiSpans),
        retryAfterMs,
      };
    },
  };
}
