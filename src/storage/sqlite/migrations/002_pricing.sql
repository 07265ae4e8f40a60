-- Pricing: the dearer cache-write bucket, user price overrides edited through the admin API, and the
-- audit trail of reprice runs. Stored costs only ever change through a recorded reprice run.

-- Part of cache_write_tokens written with the longer retention (Anthropic 1 hour, OpenAI 12 hours).
ALTER TABLE usage_log ADD COLUMN cache_write_extended_tokens INTEGER NOT NULL DEFAULT 0;

-- Every PUT /prices/overrides is a new version; the highest version is in force. Never updated.
CREATE TABLE price_override_versions (
  version    INTEGER PRIMARY KEY AUTOINCREMENT,
  document   TEXT    NOT NULL,              -- JSON: provider id -> model entries (docs/pricing.md)
  created_at INTEGER NOT NULL,              -- ms since epoch, UTC
  actor      TEXT    NOT NULL,
  note       TEXT
);

-- One row per applied reprice (or undo of one). Dry runs change nothing and are not recorded.
CREATE TABLE reprice_runs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  kind              TEXT    NOT NULL CHECK (kind IN ('reprice', 'undo')),
  undo_of           INTEGER REFERENCES reprice_runs(id),
  status            TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  actor             TEXT    NOT NULL,
  request_id        TEXT,
  started_at        INTEGER NOT NULL,
  finished_at       INTEGER,
  scope             TEXT    NOT NULL,       -- JSON: { model, start_ms, end_ms }
  price_sources     TEXT    NOT NULL,       -- JSON: price layers and versions in force, highest first
  rows_scanned      INTEGER NOT NULL DEFAULT 0,
  rows_changed      INTEGER NOT NULL DEFAULT 0,
  rows_skipped      INTEGER NOT NULL DEFAULT 0, -- changed by someone else between read and write
  old_total_nanousd INTEGER NOT NULL DEFAULT 0, -- over the changed rows, unpriced counted as 0
  new_total_nanousd INTEGER NOT NULL DEFAULT 0,
  error             TEXT
);

-- Each changed row's pricing before and after: enough to inspect a run and to undo it.
-- usage_id is not a foreign key: DELETE /reset may remove usage rows, and the audit stays.
CREATE TABLE reprice_changes (
  run_id           INTEGER NOT NULL REFERENCES reprice_runs(id),
  usage_id         INTEGER NOT NULL,
  old_cost_nanousd INTEGER,
  old_status       TEXT    NOT NULL,
  old_source       TEXT,
  old_rates        TEXT,
  new_cost_nanousd INTEGER,
  new_status       TEXT    NOT NULL,
  new_source       TEXT,
  new_rates        TEXT,
  PRIMARY KEY (run_id, usage_id)
) WITHOUT ROWID;
