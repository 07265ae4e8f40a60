-- SQLite evaluates a CHECK of the form `x IN ('a', 'b', 'c')` (more than two values) by building a
-- temporary b-tree of the values on every INSERT: about a sixth of the cost of inserting a usage
-- row (bench/README.md, ingest). The same constraints written as comparisons cost a few
-- instructions. Existing rows satisfy both forms, and SQLite never re-checks stored rows, so the
-- table definitions are edited in place, SQLite's documented procedure for changing a CHECK
-- without rebuilding the table (https://www.sqlite.org/lang_altertable.html#otheralter):
-- migrate.ts turns off defensive mode for this migration and bumps schema_version after it, so
-- that every connection re-reads the schema.
PRAGMA writable_schema = ON;

UPDATE sqlite_schema
SET sql = replace(
  replace(
    sql,
    'CHECK (source IN (''ingest'', ''legacy'', ''import''))',
    'CHECK (source = ''ingest'' OR source = ''legacy'' OR source = ''import'')'
  ),
  'CHECK (pricing_status IN (''priced'', ''estimated'', ''unpriced''))',
  'CHECK (pricing_status = ''priced'' OR pricing_status = ''estimated'' OR pricing_status = ''unpriced'')'
)
WHERE type = 'table' AND name = 'usage_log';

UPDATE sqlite_schema
SET sql = replace(
  sql,
  'CHECK (detail IN (''full'', ''token'', ''model'', ''none''))',
  'CHECK (detail = ''full'' OR detail = ''token'' OR detail = ''model'' OR detail = ''none'')'
)
WHERE type = 'table'
  AND name IN ('usage_rollup_quarter_hour', 'usage_rollup_hour', 'usage_rollup_day', 'usage_rollup_month');

PRAGMA writable_schema = OFF;
