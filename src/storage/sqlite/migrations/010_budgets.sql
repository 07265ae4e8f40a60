-- Budgets, their spend counters, alert channels, and the alert outbox with its delivery log.
-- Nothing here depends on this migration's number.

CREATE TABLE budgets (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL UNIQUE,
  limit_nanousd INTEGER NOT NULL CHECK (limit_nanousd > 0),
  -- JSON: {"kind":"day"|"week"|"month","timeZone":"Europe/Paris"} or {"kind":"rolling","hours":168}
  window_spec   TEXT    NOT NULL,
  -- JSON: {"tokenId","model","modelPrefix","provider","user","tags":[{"key","value"}]}, each optional
  scope         TEXT    NOT NULL,
  thresholds_bp TEXT    NOT NULL,            -- JSON array of basis points, ascending (8000 = 80 %)
  forecast_alert INTEGER NOT NULL CHECK (forecast_alert = 0 OR forecast_alert = 1),
  channel_ids   TEXT,                        -- JSON array of alert_channels ids; NULL = every channel
  bucket_ms     INTEGER NOT NULL CHECK (bucket_ms > 0),
  counted_from  INTEGER,                     -- usage with ts >= this is in budget_spend; NULL = none yet
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

-- Priced spend, unpriced requests and requests of a budget's scope per bucket (an hour or a quarter
-- hour, UTC-aligned), kept in the transaction that writes the usage rows.
CREATE TABLE budget_spend (
  budget_id         INTEGER NOT NULL,
  bucket_start      INTEGER NOT NULL,
  cost_nanousd      INTEGER NOT NULL,
  unpriced_requests INTEGER NOT NULL,
  requests          INTEGER NOT NULL,
  PRIMARY KEY (budget_id, bucket_start)
) WITHOUT ROWID;

CREATE TABLE alert_channels (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  kind       TEXT    NOT NULL CHECK (kind = 'webhook' OR kind = 'slack'),
  url        TEXT    NOT NULL,
  secret     TEXT,                           -- HMAC-SHA256 key of a webhook channel
  enabled    INTEGER NOT NULL CHECK (enabled = 0 OR enabled = 1),
  created_at INTEGER NOT NULL
);

-- Every alert that fired. dedupe_key makes each one fire once: "threshold:<budget>:<window start>:<bp>",
-- "forecast:<budget>:<window start>", "anomaly:<subject>:<hour>", "unpriced:<provider>/<model>:<day>".
CREATE TABLE alert_events (
  id         INTEGER PRIMARY KEY,
  kind       TEXT    NOT NULL,
  dedupe_key TEXT    NOT NULL UNIQUE,
  budget_id  INTEGER,
  created_at INTEGER NOT NULL,
  payload    TEXT    NOT NULL                -- JSON: what the alert says
);

-- The outbox: one row per alert and channel, written in the alert's transaction, then updated by
-- the sender after each attempt. Rows stay as the delivery log.
CREATE TABLE alert_deliveries (
  id               INTEGER PRIMARY KEY,
  event_id         INTEGER NOT NULL REFERENCES alert_events(id),
  channel_id       INTEGER NOT NULL,
  status           TEXT    NOT NULL CHECK (status = 'pending' OR status = 'delivered' OR status = 'failed'),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER,
  last_attempt_at  INTEGER,
  last_status_code INTEGER,
  last_error       TEXT,
  delivered_at     INTEGER,
  created_at       INTEGER NOT NULL
);
CREATE INDEX idx_alert_deliveries_due ON alert_deliveries(next_attempt_at) WHERE status = 'pending';

CREATE TABLE alert_settings (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  document   TEXT    NOT NULL,               -- JSON
  updated_at INTEGER NOT NULL
);
