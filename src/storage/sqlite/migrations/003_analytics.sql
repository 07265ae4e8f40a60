-- Analytics: end-user and tags on usage rows, and rollups that answer dashboard questions without
-- scanning usage_log.

-- End-user id (the client's own user id, free text) and tags (a JSON object of string values with
-- its keys sorted), both optional.
ALTER TABLE usage_log ADD COLUMN end_user TEXT;
ALTER TABLE usage_log ADD COLUMN tags TEXT;

-- Three rollup tiers with the same shape: UTC hours, UTC days and UTC months. Each row sums the
-- usage rows of one bucket and one dimension value:
--   dim = ''          every row (dim_value = '')
--   dim = 'user'      rows with end_user = dim_value
--   dim = 'tag:<key>' rows whose tags have <key> = dim_value
-- at one level of detail: 'full' one row per (token, provider, model), 'token' per token, 'model'
-- per (provider, model), 'none' one row; fields a detail does not keep are 0 / ''. Which tiers
-- keep which details for which dimension is decided in rollup-writer.ts (rollupLayout), which
-- also explains why. ingest_token_id is 0 for rows without a token (a primary key column cannot be
-- NULL). cost_nanousd sums priced rows only; unpriced rows are counted in unpriced_requests.
-- The tables are maintained in the same transaction as every write to usage_log, so they always
-- equal a recomputation from the raw rows.
CREATE TABLE usage_rollup_hour (
  dim                 TEXT    NOT NULL,
  detail              TEXT    NOT NULL CHECK (detail IN ('full', 'token', 'model', 'none')),
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
  PRIMARY KEY (dim, detail, bucket_start, dim_value, ingest_token_id, provider, model)
) WITHOUT ROWID;

CREATE TABLE usage_rollup_day (
  dim                 TEXT    NOT NULL,
  detail              TEXT    NOT NULL CHECK (detail IN ('full', 'token', 'model', 'none')),
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
  PRIMARY KEY (dim, detail, bucket_start, dim_value, ingest_token_id, provider, model)
) WITHOUT ROWID;

CREATE TABLE usage_rollup_month (
  dim                 TEXT    NOT NULL,
  detail              TEXT    NOT NULL CHECK (detail IN ('full', 'token', 'model', 'none')),
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
  PRIMARY KEY (dim, detail, bucket_start, dim_value, ingest_token_id, provider, model)
) WITHOUT ROWID;

-- Rows written before this migration have no user or tags: only the dim = '' rows exist, built in
-- the same layout as rollup-writer.ts (a test checks that the two agree). The floors are written
-- so that they are right for times before 1970 too.
INSERT INTO usage_rollup_month
SELECT '', 'full', CAST(strftime('%s', ts / 1000.0, 'unixepoch', 'start of month') AS INTEGER) * 1000 AS b, '',
       COALESCE(ingest_token_id, 0), provider, model,
       COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
       COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)
FROM usage_log GROUP BY b, COALESCE(ingest_token_id, 0), provider, model;

INSERT INTO usage_rollup_day
SELECT '', 'full', ts - ((ts % 86400000) + 86400000) % 86400000 AS b, '', COALESCE(ingest_token_id, 0), provider, model,
       COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
       COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)
FROM usage_log GROUP BY b, COALESCE(ingest_token_id, 0), provider, model;

INSERT INTO usage_rollup_hour
SELECT '', 'full', ts - ((ts % 3600000) + 3600000) % 3600000 AS b, '', COALESCE(ingest_token_id, 0), provider, model,
       COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
       COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)
FROM usage_log GROUP BY b, COALESCE(ingest_token_id, 0), provider, model;

-- The narrower details of the day and hour tiers, summed from the full rows just written.
INSERT INTO usage_rollup_day
SELECT '', 'token', bucket_start, '', ingest_token_id, '', '', SUM(requests), SUM(prompt_tokens),
       SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
       SUM(input_audio_tokens), SUM(output_audio_tokens), SUM(cost_nanousd), SUM(unpriced_requests)
FROM usage_rollup_day WHERE dim = '' AND detail = 'full' GROUP BY bucket_start, ingest_token_id;
INSERT INTO usage_rollup_day
SELECT '', 'model', bucket_start, '', 0, provider, model, SUM(requests), SUM(prompt_tokens),
       SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
       SUM(input_audio_tokens), SUM(output_audio_tokens), SUM(cost_nanousd), SUM(unpriced_requests)
FROM usage_rollup_day WHERE dim = '' AND detail = 'full' GROUP BY bucket_start, provider, model;
INSERT INTO usage_rollup_day
SELECT '', 'none', bucket_start, '', 0, '', '', SUM(requests), SUM(prompt_tokens),
       SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
       SUM(input_audio_tokens), SUM(output_audio_tokens), SUM(cost_nanousd), SUM(unpriced_requests)
FROM usage_rollup_day WHERE dim = '' AND detail = 'full' GROUP BY bucket_start;
INSERT INTO usage_rollup_hour
SELECT '', 'token', bucket_start, '', ingest_token_id, '', '', SUM(requests), SUM(prompt_tokens),
       SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
       SUM(input_audio_tokens), SUM(output_audio_tokens), SUM(cost_nanousd), SUM(unpriced_requests)
FROM usage_rollup_hour WHERE dim = '' AND detail = 'full' GROUP BY bucket_start, ingest_token_id;
INSERT INTO usage_rollup_hour
SELECT '', 'model', bucket_start, '', 0, provider, model, SUM(requests), SUM(prompt_tokens),
       SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
       SUM(input_audio_tokens), SUM(output_audio_tokens), SUM(cost_nanousd), SUM(unpriced_requests)
FROM usage_rollup_hour WHERE dim = '' AND detail = 'full' GROUP BY bucket_start, provider, model;
INSERT INTO usage_rollup_hour
SELECT '', 'none', bucket_start, '', 0, '', '', SUM(requests), SUM(prompt_tokens),
       SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
       SUM(input_audio_tokens), SUM(output_audio_tokens), SUM(cost_nanousd), SUM(unpriced_requests)
FROM usage_rollup_hour WHERE dim = '' AND detail = 'full' GROUP BY bucket_start;
