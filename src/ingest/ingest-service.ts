import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { usdToNano } from '../lib/money.js';
import { parseIsoTime } from '../lib/time.js';
import { compileBody, describeValidationError } from '../lib/validator.js';
import type { IngestRefusalReason } from '../metrics/ingest-refusals.js';
import type { IngestOutcome, Metrics } from '../metrics/metrics.js';
import type { Pricer } from '../pricing/types.js';
import type { BucketStore } from '../ratelimit/bucket-store.js';
import type { BudgetVerdict, NewUsage, Store, TokenRecord, UsageSource } from '../storage/store.js';
import { type NormalisedRecord, normaliseRecord } from './normalise-record.js';
import { type IngestRecordBody, IngestRecordSchema } from './record-schema.js';
import { plainTokenCounts } from './token-counts.js';

/**
 * The ingest pipeline. Each record goes through named steps, and a record that is refused gets
 * a named reason (counted in metrics):
 *   validate -> normalise -> resolve token -> rate limit -> price -> write (group commit)
 */

/** The named reasons a record is refused; the dashboard warns of each (metrics/ingest-refusals.ts). */
export type RejectReason = IngestRefusalReason;

export type RecordResult =
  | {
      status: 'created';
      id: number;
      costNanoUsd: number | null;
      pricingStatus: NewUsage['pricingStatus'];
      budgets?: readonly BudgetVerdict[];
    }
  | { status: 'duplicate'; id: number; budgets?: readonly BudgetVerdict[] }
  | { status: 'rejected'; code: RejectReason; reason: string; retryAfterMs?: number };

export interface BatchOutcome {
  /** One result per record, in the order sent. */
  results: RecordResult[];
  /**
   * Set when the rate limit refused records: how long until every token's bucket holds all of its
   * refused records again (a bucket holds at most its burst), so a retry after it is not refused.
   */
  retryAfterMs: number | null;
}

export interface LegacyLogBody {
  timestamp?: string;
  model: string;
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  estimatedCostUSD?: number;
}

export interface IngestService {
  /** One record; throws AppError for anything but created/duplicate. */
  ingestOne(body: IngestRecordBody): Promise<RecordResult & { status: 'created' | 'duplicate' }>;
  /**
   * Many records in one transaction; every record gets its own result. `source` marks where they
   * came from (OTLP spans are 'otlp'); default 'ingest'.
   */
  ingestBatch(records: readonly unknown[], options?: { source?: UsageSource }): Promise<BatchOutcome>;
  /** The deprecated POST /log: a token-less row. */
  ingestLegacy(body: LegacyLogBody): Promise<{ id: number }>;
}

export interface IngestDeps {
  config: Config;
  store: Store;
  pricer: Pricer;
  buckets: BucketStore;
  clock: Clock;
  metrics: Metrics;
}

const REJECT_STATUS: Record<RejectReason, 'invalid_request' | 'not_found' | 'forbidden' | 'rate_limited'> = {
  validation_error: 'invalid_request',
  unknown_token: 'not_found',
  inactive_token: 'forbidden',
  rate_limited: 'rate_limited',
};

const METRIC_FOR: Record<RejectReason, IngestOutcome> = {
  validation_error: 'validation_error',
  unknown_token: 'unknown_token',
  inactive_token: 'inactive_token',
  rate_limited: 'rate_limited',
};

export function createIngestService(deps: IngestDeps): IngestService {
  const { config, store, pricer, buckets, clock, metrics } = deps;
  const validateRecord = compileBody<IngestRecordBody>(IngestRecordSchema);
  const limits = {
    capacity: config.ingestRateLimit.burst,
    refillPerMinute: config.ingestRateLimit.ratePerMinute,
  };
  const refillPerMs = limits.refillPerMinute / 60_000;

  /**
   * What one call learns as it goes: tokens looked up, rate-limit refusals per token id, and per
   * tracking token how many of the call's records want a share of its bucket and what the bucket
   * granted them.
   */
  interface CallState {
    tokens: Map<string, TokenRecord | undefined>;
    limited: Map<number, { records: number; firstRetryMs: number }>;
    wanted: Map<string, number>;
    grants: Map<string, { left: number; retryAfterMs: number }>;
  }
  const newCallState = (): CallState => ({
    tokens: new Map(),
    limited: new Map(),
    wanted: new Map(),
    grants: new Map(),
  });

  /**
   * Whether the token's bucket admits one more record of this call. The first record of a token
   * asks the bucket for as many tokens as the call has records for it (one round trip to a shared
   * store per token, not per record); the following records are admitted from that grant in
   * order, exactly as one take per record would admit them.
   */
  async function admit(
    token: TokenRecord,
    trackingToken: string,
    nowMs: number,
    state: CallState,
  ): Promise<{ allowed: boolean; retryAfterMs: number }> {
    let grant = state.grants.get(trackingToken);
    if (!grant) {
      const wanted = state.wanted.get(trackingToken) ?? 1;
      const key = `ingest:${token.id}`;
      if (wanted === 1) {
        const decision = await buckets.take(key, limits, nowMs);
        grant = { left: decision.allowed ? 1 : 0, retryAfterMs: decision.retryAfterMs };
      } else {
        const decision = await buckets.takeUpTo(key, limits, nowMs, wanted);
        grant = { left: decision.granted, retryAfterMs: decision.retryAfterMs };
      }
      state.grants.set(trackingToken, grant);
    }
    if (grant.left === 0) return { allowed: false, retryAfterMs: grant.retryAfterMs };
    grant.left -= 1;
    return { allowed: true, retryAfterMs: 0 };
  }

  /** The wait after which every token's refused records fit in its bucket again. */
  function retryAfterAll(state: CallState): number | null {
    let longest: number | null = null;
    for (const { records, firstRetryMs } of state.limited.values()) {
      const waitMs = firstRetryMs + (Math.min(records, limits.capacity) - 1) / refillPerMs;
      longest = Math.max(longest ?? 0, Math.ceil(waitMs));
    }
    return longest;
  }

  type Prepared =
    | { ok: true; usage: NewUsage }
    | { ok: false; result: RecordResult & { status: 'rejected' } };

  const reject = (
    code: RejectReason,
    reason: string,
    token?: { label: string; retryAfterMs?: number },
  ): Prepared => {
    metrics.countIngest(METRIC_FOR[code]);
    metrics.recordIngestRefused(code, clock.now(), token?.label ?? null);
    const retryAfterMs = token?.retryAfterMs;
    return {
      ok: false,
      result: { status: 'rejected', code, reason, ...(retryAfterMs ? { retryAfterMs } : {}) },
    };
  };

  function price(
    record: Pick<
      NormalisedRecord,
      'provider' | 'model' | 'ts' | 'counts' | 'serviceTier' | 'batch' | 'completionWindow'
    >,
  ) {
    return pricer.price({
      provider: record.provider,
      model: record.model,
      atMs: record.ts,
      usage: record.counts,
      serviceTier: record.serviceTier,
      batch: record.batch,
      completionWindow: record.completionWindow,
    });
  }

  async function prepare(
    record: NormalisedRecord,
    receivedAt: number,
    state: CallState,
    source: UsageSource = 'ingest',
  ): Promise<Prepared> {
    let token = state.tokens.get(record.trackingToken);
    if (!state.tokens.has(record.trackingToken)) {
      token = await store.findTokenByValue(record.trackingToken);
      state.tokens.set(record.trackingToken, token);
    }
    if (!token) return reject('unknown_token', 'Unknown tracking token');
    if (!token.active) return reject('inactive_token', 'Tracking token is inactive', token);

    const nowMs = clock.now();
    const decision = await admit(token, record.trackingToken, nowMs, state);
    if (!decision.allowed) {
      metrics.countRateLimitHit('ingest');
      const seen = state.limited.get(token.id);
      if (seen) seen.records += 1;
      else state.limited.set(token.id, { records: 1, firstRetryMs: decision.retryAfterMs });
      return reject('rate_limited', 'Rate limit exceeded for this tracking token', {
        label: token.label,
        retryAfterMs: decision.retryAfterMs,
      });
    }

    const priced = price(record);
    return {
      ok: true,
      usage: {
        ts: record.ts,
        receivedAt,
        source,
        ingestTokenId: token.id,
        eventId: record.eventId,
        provider: record.provider,
        model: record.model,
        ...record.counts,
        serviceTier: record.serviceTier,
        batch: record.batch,
        completionWindow: record.completionWindow,
        costNanoUsd: priced.costNanoUsd,
        pricingStatus: priced.status,
        pricingSource: priced.source,
        pricingRates: priced.ratesJson,
        clientCostNanoUsd: record.clientCostNanoUsd,
        meta: record.meta,
        rawUsage: record.rawUsage,
        user: record.user,
        tags: record.tags,
      },
    };
  }

  // Records that name no provider get the one their model name belongs to (infer-provider.ts).
  const infer = pricer.inferProvider?.bind(pricer);
  const inferProvider = infer ? (model: string) => infer(model, config.defaultProvider) : undefined;

  function normalise(body: IngestRecordBody, nowMs: number) {
    return normaliseRecord(body as IngestRecordBody & Record<string, unknown>, {
      defaultProvider: config.defaultProvider,
      nowMs,
      ...(inferProvider ? { inferProvider } : {}),
    });
  }

  function countWritten(results: RecordResult[]): void {
    for (const result of results) {
      if (result.status === 'created') metrics.countIngest('success');
      else if (result.status === 'duplicate') metrics.countIngest('duplicate');
    }
  }

  return {
    async ingestOne(body) {
      const nowMs = clock.now();
      const normalised = normalise(body, nowMs);
      if (!normalised.ok) {
        metrics.countIngest('validation_error');
        metrics.recordIngestRefused('validation_error', nowMs, null);
        throw new AppError('invalid_request', normalised.reason);
      }
      const prepared = await prepare(normalised.record, nowMs, newCallState());
      if (!prepared.ok) {
        const { code, reason, retryAfterMs } = prepared.result;
        const headers: Record<string, string> = retryAfterMs
          ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) }
          : {};
        throw new AppError(REJECT_STATUS[code], reason, headers);
      }
      const [outcome] = await store.insertUsage([prepared.usage]);
      if (!outcome) throw new Error('store returned no outcome');
      if (outcome.status === 'created') metrics.recordUsage(prepared.usage);
      const result: RecordResult & { status: 'created' | 'duplicate' } =
        outcome.status === 'created'
          ? {
              status: 'created',
              id: outcome.id,
              costNanoUsd: prepared.usage.costNanoUsd,
              pricingStatus: prepared.usage.pricingStatus,
              budgets: outcome.budgets,
            }
          : { status: 'duplicate', id: outcome.id, budgets: outcome.budgets };
      countWritten([result]);
      return result;
    },

    async ingestBatch(records, options = {}) {
      metrics.recordIngestBatch(records.length);
      const nowMs = clock.now();
      const results: RecordResult[] = new Array(records.length);
      const toWrite: { index: number; usage: NewUsage }[] = [];
      const state = newCallState();
      const valid: { index: number; record: NormalisedRecord }[] = [];
      for (const [index, raw] of records.entries()) {
        if (!validateRecord(raw)) {
          const error = validateRecord.errors?.[0];
          results[index] = (
            reject('validation_error', error ? describeValidationError(error) : 'record is invalid') as {
              result: RecordResult;
            }
          ).result;
          continue;
        }
        const normalised = normalise(raw, nowMs);
        if (!normalised.ok) {
          results[index] = (reject('validation_error', normalised.reason) as { result: RecordResult }).result;
          continue;
        }
        valid.push({ index, record: normalised.record });
        const { trackingToken } = normalised.record;
        state.wanted.set(trackingToken, (state.wanted.get(trackingToken) ?? 0) + 1);
      }
      for (const { index, record } of valid) {
        const prepared = await prepare(record, nowMs, state, options.source);
        if (prepared.ok) toWrite.push({ index, usage: prepared.usage });
        else results[index] = prepared.result;
      }
      if (toWrite.length > 0) {
        const outcomes = await store.insertUsage(toWrite.map((item) => item.usage));
        outcomes.forEach((outcome, i) => {
          const item = toWrite[i];
          if (!item) return;
          if (outcome.status === 'created') metrics.recordUsage(item.usage);
          results[item.index] =
            outcome.status === 'created'
              ? {
                  status: 'created',
                  id: outcome.id,
                  costNanoUsd: item.usage.costNanoUsd,
                  pricingStatus: item.usage.pricingStatus,
                  budgets: outcome.budgets,
                }
              : { status: 'duplicate', id: outcome.id, budgets: outcome.budgets };
        });
      }
      countWritten(results);
      return { results, retryAfterMs: retryAfterAll(state) };
    },

    async ingestLegacy(body) {
      const nowMs = clock.now();
      let ts = nowMs;
      if (body.timestamp !== undefined && body.timestamp.trim() !== '') {
        const parsed = parseIsoTime(body.timestamp);
        if (!parsed)
          throw new AppError(
            'invalid_request',
            `timestamp must be an ISO-8601 date-time (got "${body.timestamp}")`,
          );
        ts = parsed.ms;
      }
      const sentModel = body.model.trim();
      if (sentModel === '') throw new AppError('invalid_request', 'model is required');
      const { provider, model } = inferProvider?.(sentModel) ?? {
        provider: config.defaultProvider,
        model: sentModel,
      };
      const promptTokens = body.promptTokens ?? 0;
      const completionTokens = body.completionTokens ?? 0;
      const totalTokens = body.totalTokens ?? promptTokens + completionTokens;
      if (totalTokens !== promptTokens + completionTokens) {
        throw new AppError('invalid_request', 'totalTokens must equal promptTokens + completionTokens');
      }
      const counts = plainTokenCounts(promptTokens, completionTokens, totalTokens);
      const record = {
        provider,
        model,
        ts,
        counts,
        serviceTier: null,
        batch: false,
        completionWindow: null,
      };
      const priced = price(record);
      const [outcome] = await store.insertUsage([
        {
          ...record,
          ...counts,
          receivedAt: nowMs,
          source: 'legacy',
          ingestTokenId: null,
          eventId: null,
          costNanoUsd: priced.costNanoUsd,
          pricingStatus: priced.status,
          pricingSource: priced.source,
          pricingRates: priced.ratesJson,
          clientCostNanoUsd: body.estimatedCostUSD === undefined ? null : usdToNano(body.estimatedCostUSD),
          meta: null,
          rawUsage: null,
        },
      ]);
      if (!outcome) throw new Error('store returned no outcome');
      metrics.recordUsage({ model, ingestTokenId: null, costNanoUsd: priced.costNanoUsd, ...counts });
      return { id: outcome.id };
    },
  };
}
