-- Analytics: end-user and tags on usage rows, and rollups that answer dashboard questions without
-- scanning usage_log.

-- End-user id (the client's own user id, free text) and tags (a JSON object of string values with
-- its keys sorted), both optional.
ALTER TABLE usage_log ADD COLUMN end_user TEXT;
ALTER TABLE usage_log ADD COLUMN tags TEXT;

-- Three rollup tiers with the same shape: UTC hours, UTC days and UTC months. Each row sums the
-- usage rows of one bucket for one (token, provider, model) and one dimension value:
--   dim = ''          every row (dim_value = '')
--   dim = 'user'      rows with end_user = dim_value
--   dim = 'tag:<key>' rows whose tags have <key> = dim_value
-- so a row with a user and two tags is counted in four rows of each tier (three of the hourly
-- tier: end users have no hourly rollup, see rollup-writer.ts). ingest_token_id is 0 for
-- rows without a token (a primary key column cannot be NULL). cost_nanousd sums priced rows only;
-- unpriced rows are counted in unpriced_requests instead.
-- They are maintained in the same transaction as every write to usage_log (rollup-writer.ts), so
-- they always equal a recomputation from the raw rows.
CREATE TABLE usage_rollup_hour (
  dim                 TEXT    NOT NULL,
  bucket_start        INTEGER NOT NULL,     -- ms since epoch, UTC, start of the hour
  dim_value           TEXT    NOT NULL,
  ingest_token_id     INTEGER NOT NULL,
  provider            TEXT    NOT NULL,
  model               TEXT    NOT NULL,
  requests            INTEGER NOT NULL,
  prompt_tokens       INTEGER NOT NULL,
  completion_tokens   INTEGER NOT NULL,
  total_tokens        INTEGER NOT NULL,
  cached_tokens       INTEGER NOT NULL,
  cache_write_tokens  INTEGER NOT NULL,
  reasoning_tokens    INTEGER NOT NULL,
  input_audio_tokens  INTEGER NOT NULL,
  output_audio_tokens INTEGER NOT NULL,
  cost_nanousd        INTEGER NOT NULL,
  unpriced_requests   INTEGER NOT NULL,
  PRIMARY KEY (dim, bucket_start, dim_value, ingest_token_id, provider, model)
) WITHOUT ROWID;

CREATE TABLE usage_rollup_day (
  dim                 TEXT    NOT NULL,
  bucket_start        INTEGER NOT NULL,     -- start of the UTC day
  dim_value           TEXT    NOT NULL,
  ingest_token_id     INTEGER NOT NULL,
  provider            TEXT    NOT NULL,
  model               TEXT    NOT NULL,
  requests            INTEGER NOT NULL,
  prompt_tokens       INTEGER NOT NULL,
  completion_tokens   INTEGER NOT NULL,
  total_tokens        INTEGER NOT NULL,
  cached_tokens       INTEGER NOT NULL,
  cache_write_tokens  INTEGER NOT NULL,
  reasoning_tokens    INTEGER NOT NULL,
  input_audio_tokens  INTEGER NOT NULL,
  output_audio_tokens INTEGER NOT NULL,
  cost_nanousd        INTEGER NOT NULL,
  unpriced_requests   INTEGER NOT NULL,
  PRIMARY KEY (dim, bucket_start, dim_value, ingest_token_id, provider, model)
) WITHOUT ROWID;

CREATE TABLE usage_rollup_month (
  dim                 TEXT    NOT NULL,
  bucket_start        INTEGER NOT NULL,     -- start of the UTC month
  dim_value           TEXT    NOT NULL,
  ingest_token_id     INTEGER NOT NULL,
  provider            TEXT    NOT NULL,
  model               TEXT    NOT NULL,
  requests            INTEGER NOT NULL,
  prompt_tokens       INTEGER NOT NULL,
  completion_tokens   INTEGER NOT NULL,
  total_tokens        INTEGER NOT NULL,
  cached_tokens       INTEGER NOT NULL,
  cache_write_tokens  INTEGER NOT NULL,
  reasoning_tokens    INTEGER NOT NULL,
  input_audio_tokens  INTEGER NOT NULL,
  output_audio_tokens INTEGER NOT NULL,
  cost_nanousd        INTEGER NOT NULL,
  unpriced_requests   INTEGER NOT NULL,
  PRIMARY KEY (dim, bucket_start, dim_value, ingest_token_id, provider, model)
) WITHOUT ROWID;

-- Rows written before this migration have no user or tags: they only need the dim = '' rows.
-- Floors are written so that they are right for times before 1970 too.
INSERT INTO usage_rollup_hour
SELECT '', ts - ((ts % 3600000) + 3600000) % 3600000 AS bucket, '', COALESCE(ingest_token_id, 0), provider, model,
       COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
       COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)
FROM usage_log GROUP BY bucket, COALESCE(ingest_token_id, 0), provider, model;

INSERT INTO usage_rollup_day
SELECT '', ts - ((ts % 86400000) + 86400000) % 86400000 AS bucket, '', COALESCE(ingest_token_id, 0), provider, model,
       COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
       COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)
FROM usage_log GROUP BY bucket, COALESCE(ingest_token_id, 0), provider, model;

INSERT INTO usage_rollup_month
SELECT '', CAST(strftime('%s', ts / 1000.0, 'unixepoch', 'start of month') AS INTEGER) * 1000 AS bucket, '',
       COALESCE(ingest_token_id, 0), provider, model,
       COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
       COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)
FROM usage_log GROUP BY bucket, COALESCE(ingest_token_id, 0), provider, model;
