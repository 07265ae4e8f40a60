-- Usage and cost that providers report through their admin APIs (OpenAI organization usage and
-- costs, Anthropic usage and cost reports), pulled by src/reports/. Kept apart from usage_log so
-- that pushed and reported usage are never added together; reconciliation compares them.
-- Times are ms since epoch UTC; money is integer nano-dollars; '' stands for "not named".

CREATE TABLE provider_usage_buckets (
  provider                    TEXT    NOT NULL CHECK (provider = 'openai' OR provider = 'anthropic'),
  report                      TEXT    NOT NULL,   -- completions | embeddings | messages
  bucket_start                INTEGER NOT NULL,
  bucket_end                  INTEGER NOT NULL,
  model                       TEXT    NOT NULL,
  project_id                  TEXT    NOT NULL,   -- OpenAI project, Anthropic workspace
  api_key_id                  TEXT    NOT NULL,
  service_tier                TEXT    NOT NULL,
  batch                       INTEGER NOT NULL CHECK (batch = 0 OR batch = 1),
  requests                    INTEGER NOT NULL,
  prompt_tokens               INTEGER NOT NULL,   -- includes cached and cache-write tokens
  completion_tokens           INTEGER NOT NULL,
  cached_tokens               INTEGER NOT NULL,
  cache_write_tokens          INTEGER NOT NULL,
  cache_write_extended_tokens INTEGER NOT NULL,
  input_audio_tokens          INTEGER NOT NULL,
  output_audio_tokens         INTEGER NOT NULL,
  estimated_cost_nanousd      INTEGER,            -- these tokens at our prices; NULL = unpriced
  PRIMARY KEY (provider, report, bucket_start, model, project_id, api_key_id, service_tier, batch)
) WITHOUT ROWID;
CREATE INDEX idx_provider_usage_start ON provider_usage_buckets(bucket_start);

CREATE TABLE provider_cost_buckets (
  provider     TEXT    NOT NULL CHECK (provider = 'openai' OR provider = 'anthropic'),
  bucket_start INTEGER NOT NULL,
  bucket_end   INTEGER NOT NULL,
  project_id   TEXT    NOT NULL,
  api_key_id   TEXT    NOT NULL,
  line_item    TEXT    NOT NULL,
  model        TEXT    NOT NULL,
  cost_nanousd INTEGER NOT NULL,
  PRIMARY KEY (provider, bucket_start, project_id, api_key_id, line_item)
) WITHOUT ROWID;
CREATE INDEX idx_provider_cost_start ON provider_cost_buckets(bucket_start);

-- Where each report's pull got to, for incremental and resumable runs.
CREATE TABLE provider_report_sync (
  provider        TEXT    NOT NULL,
  report          TEXT    NOT NULL,
  synced_through  INTEGER,
  last_run_at     INTEGER,
  last_success_at INTEGER,
  last_error      TEXT,
  PRIMARY KEY (provider, report)
);

-- A provider project (OpenAI project, Anthropic workspace) attributed to a tracking token.
CREATE TABLE provider_project_tokens (
  provider        TEXT    NOT NULL,
  project_id      TEXT    NOT NULL,
  ingest_token_id INTEGER NOT NULL REFERENCES ingest_tokens(id),
  PRIMARY KEY (provider, project_id)
);

-- Drift alerts raised, so that a later sync raises one again only when the drift moved.
CREATE TABLE provider_drift_alerts (
  alert_key      TEXT    PRIMARY KEY,
  drift_nanousd  INTEGER NOT NULL,
  raised_at      INTEGER NOT NULL
);
