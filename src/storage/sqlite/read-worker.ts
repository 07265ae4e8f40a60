import { parentPort, workerData } from 'node:worker_threads';
import {
  type ExportedUsageRow,
  type ExportFormat,
  encodeRows,
  exportPreamble,
} from '../../lib/usage-export.js';
import { AggregateQueries } from './aggregate-queries.js';
import { openDatabase } from './open-database.js';
import { ReadQueries } from './queries.js';
import type { ReadRequest, ReadResponse } from './read-protocol.js';
import { listTagValues } from './tag-queries.js';

/**
 * Heavy reads run here, on their own read-only connection, so that a long query or a
 * million-row export never stalls the event loop that answers ingest. WAL gives every read a
 * consistent snapshot while the writer keeps committing.
 */

const { dbPath } = workerData as { dbPath: string };
const db = openDatabase(dbPath, { readonly: true });
const queries = new ReadQueries(db);
const aggregates = new AggregateQueries(db);
/** Open exports by the id of the request that opened them (unique for the client's lifetime). */
const exports = new Map<number, Generator<string>>();

/**
 * Rows are read and encoded a few hundred at a time, so that they are garbage before the next
 * young-generation collection (chunks of thousands of row objects survive it and cost twice the
 * export's time in GC), and sent `rowsPerMessage` at a time. The preamble travels with the first
 * rows, so that the first message has already run the query: an export that cannot start fails
 * before the HTTP handler has sent a status (data.ts).
 */
const ENCODE_ROWS = 250;

function* encode(
  chunks: Generator<ExportedUsageRow[]>,
  format: ExportFormat,
  rowsPerMessage: number,
): Generator<string> {
  let text = exportPreamble(format);
  let rows = 0;
  for (const chunk of chunks) {
    text += encodeRows(chunk, format);
    rows += chunk.length;
    if (rows >= rowsPerMessage) {
      yield text;
      text = '';
      rows = 0;
    }
  }
  if (text !== '') yield text;
}

function handle(request: ReadRequest): unknown {
  switch (request.op) {
    case 'ping':
      return db.prepare('SELECT 1 AS ok').get();
    case 'listUsage':
      return queries.listUsage(request.filter, request.limit, request.after);
    case 'listModels':
      return queries.listModels();
    case 'listModelUsage':
      return queries.listModelUsage();
    case 'listTokens':
      return queries.listTokens();
    case 'stats':
      return queries.stats(request.nowMs);
    case 'aggregateUsage':
      return aggregates.aggregate(request.query);
    case 'listTagValues':
      return listTagValues(db, request.valuesPerKey);
    case 'exportOpen': {
      exports.set(
        request.id,
        encode(queries.iterateUsage(request.filter, ENCODE_ROWS), request.format, request.chunkRows),
      );
      return request.id;
    }
    case 'exportNext': {
      const iterator = exports.get(request.exportId);
      if (!iterator) throw new Error(`unknown export ${request.exportId}`);
      let step: IteratorResult<string>;
      try {
        step = iterator.next();
      } catch (error) {
        exports.delete(request.exportId);
        throw error;
      }
      if (step.done) {
        exports.delete(request.exportId);
        return null;
      }
      return step.value;
    }
    case 'exportClose': {
      exports.get(request.exportId)?.return(undefined);
      exports.delete(request.exportId);
      return null;
    }
  }
}

parentPort?.on('message', (request: ReadRequest | { op: 'close' }) => {
  if (request.op === 'close') {
    for (const iterator of exports.values()) iterator.return(undefined);
    db.close();
    parentPort?.close();
    return;
  }
  let response: ReadResponse;
  try {
    response = { id: request.id, ok: true, result: handle(request) };
  } catch (error) {
    response = { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort?.postMessage(response);
});
