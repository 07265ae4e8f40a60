import type { ExportFormat } from '../../lib/usage-export.js';
import type { UsageCursor, UsageFilter } from '../store.js';
import type { UsageAggregateQuery } from '../usage-aggregate.js';

/**
 * Messages between the main thread (read-client.ts) and the read worker (read-worker.ts). Request
 * ids are unique for the lifetime of a ReadClient, across the workers it starts; an export is named
 * by the id of its exportOpen, so that after a worker is replaced, an export of the old one is
 * "unknown" to the new one instead of reading someone else's export.
 */
export type ReadRequest =
  | { id: number; op: 'ping' }
  | { id: number; op: 'listUsage'; filter: UsageFilter; limit: number; after?: UsageCursor }
  | { id: number; op: 'listModels' }
  | { id: number; op: 'listModelUsage' }
  | { id: number; op: 'listTokens' }
  | { id: number; op: 'stats'; nowMs: number }
  | { id: number; op: 'aggregateUsage'; query: UsageAggregateQuery }
  | { id: number; op: 'listTagValues'; valuesPerKey: number }
  | { id: number; op: 'exportOpen'; filter: UsageFilter; format: ExportFormat; chunkRows: number }
  | { id: number; op: 'exportNext'; exportId: number }
  | { id: number; op: 'exportClose'; exportId: number };

export type ReadResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };
