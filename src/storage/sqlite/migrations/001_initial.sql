-- Tracking tokens. Deleting a token is a soft delete (deleted_at) so that its usage rows keep
-- their attribution; a label is unique among live tokens only.
CREATE TABLE ingest_tokens (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  label        TEXT    NOT NULL,
  token        TEXT    NOT NULL UNIQUE,
  active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at   INTEGER NOT NULL,            -- ms since epoch, UTC
  last_seen_at INTEGER,                     -- server receive time, ms UTC
  deleted_at   INTEGER
);
CREATE UNIQUE INDEX ux_ingest_tokens_live_label ON ingest_tokens(label) WHERE deleted_at IS NULL;

-- One row per priced LLM call. Times are ms since epoch UTC; money is integer nano-dollars.
CREATE TABLE usage_log (
  id                  INTEGER PRIMARY KEY AUTOINCREMENT,
  ts                  INTEGER NOT NULL,     -- when the call happened
  received_at         INTEGER NOT NULL,
  source              TEXT    NOT NULL CHECK (source IN ('ingest', 'legacy', 'import')),
  ingest_token_id     INTEGER REFERENCES ingest_tokens(id),
  event_id            TEXT,
  provider            TEXT    NOT NULL,
  model               TEXT    NOT NULL,
  prompt_tokens       INTEGER NOT NULL,
  completion_tokens   INTEGER NOT NULL,
  total_tokens        INTEGER NOT NULL,
  cached_tokens       INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
  input_audio_tokens  INTEGER NOT NULL DEFAULT 0,
  output_audio_tokens INTEGER NOT NULL DEFAULT 0,
  service_tier        TEXT,
  batch               INTEGER NOT NULL DEFAULT 0 CHECK (batch IN (0, 1)),
  completion_window   TEXT,
  cost_nanousd        INTEGER,              -- NULL = unpriced, never 0 for "unknown"
  pricing_status      TEXT    NOT NULL CHECK (pricing_status IN ('priced', 'estimated', 'unpriced')),
  pricing_source      TEXT,
  pricing_rates       TEXT,                 -- JSON
  client_cost_nanousd INTEGER,
  meta                TEXT,                 -- JSON
  raw_usage           TEXT                  -- JSON
);
-- Idempotency: one row per (token, event_id). The insert relies on this index to detect
-- duplicates atomically (INSERT ... ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX ux_usage_event ON usage_log(ingest_token_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX idx_usage_ts ON usage_log(ts);
CREATE INDEX idx_usage_token_ts ON usage_log(ingest_token_id, ts);
CREATE INDEX idx_usage_model_ts ON usage_log(model, ts);
