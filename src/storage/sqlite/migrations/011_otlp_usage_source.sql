-- Usage that arrived as OpenTelemetry spans (POST /v1/traces) is stored with source 'otlp'. The
-- CHECK is widened in place, as 008 did: SQLite's documented way to change a CHECK without
-- rebuilding the table (https://www.sqlite.org/lang_altertable.html#otheralter). Every stored row
-- satisfies the wider check; migrate.ts turns off defensive mode and bumps schema_version.
PRAGMA writable_schema = ON;

UPDATE sqlite_schema
SET sql = replace(
  sql,
  'CHECK (source = ''ingest'' OR source = ''legacy'' OR source = ''import'')',
  'CHECK (source = ''ingest'' OR source = ''legacy'' OR source = ''import'' OR source = ''otlp'')'
)
WHERE type = 'table' AND name = 'usage_log';

PRAGMA writable_schema = OFF;
