import { expect, test } from 'vitest';
import { createPricingEngine } from '../pricing/pricing-engine.js';
import type { OriginalUsageRow } from '../storage/sqlite/original-database.js';
import { convertOriginalRow } from './convert-original-row.js';

const ctx = { pricer: createPricingEngine(), defaultProvider: 'openai', apiKeys: new Map() };

function row(fields: Partial<OriginalUsageRow>): OriginalUsageRow {
  return {
    id: 1,
    timestamp: '2025-08-24T13:53:26Z',
    model: 'gpt-4o-mini',
    promptTokens: 1000,
    completionTokens: 500,
    totalTokens: 1500,
    estimatedCostUsd: 0.00045,
    apiKeyId: null,
    ingestTokenId: 1,
    source: 'ingest',
    eventId: null,
    ...fields,
  };
}

const tsOf = (timestamp: OriginalUsageRow['timestamp']) => {
  const result = convertOriginalRow(row({ timestamp }), ctx);
  return result.ok ? { iso: new Date(result.usage.ts).toISOString(), naive: result.naive } : result.reason;
};

test('timestamps in every shape the original stored become UTC instants; zone-less ones are read as UTC', () => {
  expect(tsOf('2025-08-24T13:53:26+00:00')).toEqual({ iso: '2025-08-24T13:53:26.000Z', naive: false });
  expect(tsOf('2025-08-24T13:53:26Z')).toEqual({ iso: '2025-08-24T13:53:26.000Z', naive: false });
  expect(tsOf('2025-08-24T15:53:26.987654+02:00')).toEqual({ iso: '2025-08-24T13:53:26.987Z', naive: false });
  expect(tsOf('2025-08-24T08:53:26-05:00')).toEqual({ iso: '2025-08-24T13:53:26.000Z', naive: false });
  expect(tsOf('2025-08-24T13:53:26')).toEqual({ iso: '2025-08-24T13:53:26.000Z', naive: true });
  expect(tsOf('2025-08-24 13:53:26')).toEqual({ iso: '2025-08-24T13:53:26.000Z', naive: true });
  expect(tsOf('2025-08-24')).toEqual({ iso: '2025-08-24T00:00:00.000Z', naive: true });
  expect(tsOf(null)).toBe('missing_timestamp');
  expect(tsOf('   ')).toBe('missing_timestamp');
  expect(tsOf('not-a-date')).toBe('unparseable_timestamp');
  expect(tsOf('2025-02-30T00:00:00Z')).toBe('unparseable_timestamp');
  expect(tsOf(1724507606)).toBe('unparseable_timestamp');
});

test('token counts: NULL is 0, integral text and numbers are kept, anything else is refused', () => {
  const counts = (
    promptTokens: OriginalUsageRow['promptTokens'],
    totalTokens: OriginalUsageRow['totalTokens'] = null,
  ) => {
    const result = convertOriginalRow(row({ promptTokens, completionTokens: null, totalTokens }), ctx);
    return result.ok ? [result.usage.promptTokens, result.usage.totalTokens] : result.reason;
  };
  expect(counts(null)).toEqual([0, 0]);
  expect(counts('7')).toEqual([7, 7]);
  expect(counts(12, 99)).toEqual([12, 99]);
  expect(counts(5n)).toEqual([5, 5]);
  expect(counts(1.5)).toBe('invalid_token_counts');
  expect(counts(-1)).toBe('invalid_token_counts');
  expect(counts('abc')).toBe('invalid_token_counts');
  expect(counts(3, -2)).toBe('invalid_token_counts');
});

test('the stored cost is kept for comparison and our price is computed from the tokens', () => {
  const result = convertOriginalRow(row({ model: 'gpt-4o', estimatedCostUsd: 0.5 }), ctx);
  expect(
    result.ok && [result.usage.costNanoUsd, result.usage.clientCostNanoUsd, result.unreadableCost],
  ).toEqual([7_500_000, 500_000_000, false]);
  const odd = convertOriginalRow(row({ estimatedCostUsd: 'lots' }), ctx);
  expect(odd.ok && [odd.usage.clientCostNanoUsd, odd.unreadableCost]).toEqual([null, true]);
  const none = convertOriginalRow(row({ estimatedCostUsd: null, model: 'my-model' }), ctx);
  expect(none.ok && [none.usage.costNanoUsd, none.usage.pricingStatus, none.usage.clientCostNanoUsd]).toEqual(
    [null, 'unpriced', null],
  );
});

test('sources the service knows are kept; others become "import" and are named in meta with the api key', () => {
  const apiKeys = new Map([[3, { label: 'team', provider: 'openai' }]]);
  const probe = convertOriginalRow(row({ source: 'probe', apiKeyId: 3, ingestTokenId: null }), {
    ...ctx,
    apiKeys,
  });
  expect(probe.ok && [probe.usage.source, JSON.parse(probe.usage.meta ?? 'null')]).toEqual([
    'import',
    { original: { original_source: 'probe', api_key_id: 3, api_key_label: 'team' } },
  ]);
  const legacy = convertOriginalRow(row({ source: 'legacy' }), ctx);
  expect(legacy.ok && [legacy.usage.source, legacy.usage.meta]).toEqual(['legacy', null]);
});

test('with undatedAtMs a row without a usable time gets that time and keeps its text', () => {
  const result = convertOriginalRow(row({ timestamp: 'yesterday' }), {
    ...ctx,
    undatedAtMs: Date.UTC(2025, 0, 1),
  });
  expect(result.ok && [result.undated, result.usage.ts, JSON.parse(result.usage.meta ?? '{}')]).toEqual([
    true,
    Date.UTC(2025, 0, 1),
    { original: { original_timestamp: 'yesterday' } },
  ]);
});
