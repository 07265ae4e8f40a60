-- A quarter-hour rollup tier for time zones whose offset is not a whole hour (India +05:30, Nepal
-- +05:45, South Australia +09:30...): their day boundaries fall mid-hour, and without this tier a
-- daily series in such a zone reads half an hour of usage rows at every boundary. Same shape as the
-- other tiers (migration 003); it keeps the all-rows dimension only, at details 'model' and 'none'
-- (rollup-writer.ts, rollupLayout).
CREATE TABLE usage_rollup_quarter_hour (
  dim                 TEXT    NOT NULL,
  detail              TEXT    NOT NULL CHECK (detail IN ('full', 'token', 'model', 'none')),
  bucket_start        INTEGER NOT NULL,     -- ms since epoch, UTC, start of the quarter hour
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

-- The rows already stored, in the layout rollup-writer.ts keeps (a test checks that they agree).
-- The floor is written so that it is right for times before 1970 too.
INSERT INTO usage_rollup_quarter_hour
SELECT '', 'model', ts - ((ts % 900000) + 900000) % 900000 AS b, '', 0, provider, model,
       COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_audio_tokens), SUM(output_audio_tokens),
       COALESCE(SUM(cost_nanousd), 0), SUM(cost_nanousd IS NULL)
FROM usage_log GROUP BY b, provider, model;

INSERT INTO usage_rollup_quarter_hour
SELECT '', 'none', bucket_start, '', 0, '', '', SUM(requests), SUM(prompt_tokens),
       SUM(completion_tokens), SUM(total_tokens), SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
       SUM(input_audio_tokens), SUM(output_audio_tokens), SUM(cost_nanousd), SUM(unpriced_requests)
FROM usage_rollup_quarter_hour WHERE dim = '' AND detail = 'model' GROUP BY bucket_start;
