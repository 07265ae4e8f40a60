import type Database from 'better-sqlite3';
import type { TagKeyUsage } from '../store.js';
import { ROLLUP_TABLES } from './rollup-writer.js';

interface TagValueRow {
  key: string;
  value: string;
  requests: number;
  distinctValues: number;
  keyRequests: number;
}

/**
 * Every tag key with usage and its most used values, from the monthly rollup (one row per month,
 * value, token and model: small whatever the number of usage rows). A key's values are ranked by
 * requests, then value; keys by their requests, then key.
 */
export function listTagValues(db: Database.Database, valuesPerKey: number): TagKeyUsage[] {
  const rows = db
    .prepare(
      `WITH v AS (
         SELECT dim, dim_value, SUM(requests) AS requests
         FROM ${ROLLUP_TABLES.month}
         WHERE dim >= 'tag:' AND dim < 'tag;' AND detail = 'full' AND dim_value != ''
         GROUP BY dim, dim_value
         HAVING SUM(requests) > 0
       ), ranked AS (
         SELECT dim, dim_value, requests,
                ROW_NUMBER() OVER (PARTITION BY dim ORDER BY requests DESC, dim_value) AS n,
                COUNT(*) OVER (PARTITION BY dim) AS distinct_values,
                SUM(requests) OVER (PARTITION BY dim) AS key_requests
         FROM v
       )
       SELECT substr(dim, 5) AS key, dim_value AS value, requests,
              distinct_values AS distinctValues, key_requests AS keyRequests
       FROM ranked WHERE n <= ?
       ORDER BY key_requests DESC, dim, n`,
    )
    .all(valuesPerKey) as TagValueRow[];
  const keys: TagKeyUsage[] = [];
  for (const row of rows) {
    let last = keys[keys.length - 1];
    if (last?.key !== row.key) {
      last = { key: row.key, requests: row.keyRequests, distinctValues: row.distinctValues, values: [] };
      keys.push(last);
    }
    last.values.push({ value: row.value, requests: row.requests });
  }
  return keys;
}
