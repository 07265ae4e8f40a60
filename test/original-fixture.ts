import Database from 'better-sqlite3';

/**
 * Databases in the exact schema of the original (Python/Flask) Cost Guardian
 * (original-behaviour.md section 5): the v0.2 tables, then the columns its ALTER-based migrations
 * added, its indexes, and rows with the quirks the original let in.
 */

const V02_SCHEMA = `
  CREATE TABLE usage_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT,
    model TEXT,
    promptTokens INTEGER,
    completionTokens INTEGER,
    totalTokens INTEGER,
    estimatedCostUSD REAL
  );
  CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    provider TEXT DEFAULT 'openai',
    enc_key BLOB NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    last_ok TEXT,
    created_at TEXT DEFAULT (DATETIME('now'))
  );
  ALTER TABLE usage_log ADD COLUMN api_key_id INTEGER NULL;
  ALTER TABLE usage_log ADD COLUMN source TEXT NOT NULL DEFAULT 'ingest';
  CREATE INDEX idx_usage_key_ts ON usage_log(api_key_id, timestamp);
  CREATE INDEX idx_usage_ts ON usage_log(timestamp);
  CREATE INDEX idx_usage_model_ts ON usage_log(model, timestamp);
  CREATE INDEX idx_keys_active ON api_keys(active);
  CREATE UNIQUE INDEX ux_api_keys_label ON api_keys(label);
`;

const V03_ADDITIONS = `
  CREATE TABLE ingest_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (DATETIME('now')),
    last_seen_at TEXT NULL
  );
  ALTER TABLE usage_log ADD COLUMN ingest_token_id INTEGER NULL REFERENCES ingest_tokens(id) ON DELETE SET NULL;
  ALTER TABLE usage_log ADD COLUMN event_id TEXT NULL;
  CREATE INDEX idx_usage_ingest_ts ON usage_log(ingest_token_id, timestamp);
  CREATE INDEX idx_ingest_tokens_active ON ingest_tokens(active);
  CREATE UNIQUE INDEX ux_ingest_tokens_label ON ingest_tokens(label);
  CREATE UNIQUE INDEX ux_ingest_tokens_token ON ingest_tokens(token);
  CREATE UNIQUE INDEX idx_usage_event ON usage_log(ingest_token_id, event_id) WHERE event_id IS NOT NULL;
`;

export const ORIGINAL_TOKENS = {
  production: { id: 1, label: 'Production App', token: 'q8N0vYk3Jc1mZp7Xr2Lw5Tb9Hs4Ud6Fa' },
  staging: { id: 2, label: 'Staging', token: 'Wm3Qa8Zr1Lk6Yt4Pc9Nv2Hb7Xs5Jd0Ge' },
  retired: { id: 3, label: 'Old batch job', token: 'Ce5Rt2Yu8Io1Pa4Sd7Fg0Hj3Kl6Zx9Vb' },
} as const;

/** The v0.3 scenario's usage rows by what they exercise; the numbers are the original row ids. */
export const ROWS = {
  offsetPlusZero: 1,
  zulu: 2,
  offsetWithMicroseconds: 3,
  logWithoutTimestamp: 4,
  orphanedByDelete: 5,
  deletedTokenStillReferenced: 6,
  notADate: 7,
  probeNaive: 8,
  logSpaceSeparated: 9,
  negativeCost: 10,
  noModel: 11,
  textTokenCount: 12,
  unknownModel: 13,
  sameEventOtherToken: 14,
  inactiveTokenRow: 15,
} as const;

/** A v0.3 database as a long-running original deployment leaves it. */
export function createOriginalV03(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.exec(V02_SCHEMA);
  db.exec(V03_ADDITIONS);
  db.prepare(`INSERT INTO api_keys (label, provider, enc_key) VALUES ('main key', 'openai', ?)`).run(
    Buffer.from('gAAAAABfernet-ciphertext-never-read'),
  );
  const token = db.prepare(
    'INSERT INTO ingest_tokens (id, label, token, active, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const { production, staging, retired } = ORIGINAL_TOKENS;
  token.run(
    production.id,
    production.label,
    production.token,
    1,
    '2025-08-01 09:15:00',
    '2025-08-26T10:00:00.123456+02:00',
  );
  token.run(staging.id, staging.label, staging.token, 1, '2025-08-02 10:00:00', '2025-08-25T09:00:00Z');
  token.run(retired.id, retired.label, retired.token, 0, '2025-07-15 08:00:00', 'yesterday-ish');
  // Token 4 will be deleted with foreign keys on (its rows lose their token), token 9 with them off
  // (its row keeps pointing at an id that no longer exists).
  token.run(4, 'Temp', 'Tm4Pq7Ws1Ed5Rf8Tg2Yh6Uj9Ik3Ol0Az', 1, '2025-08-03 11:00:00', null);
  token.run(9, 'Gone', 'Gn9Bx2Cv5Bn8Mq1Wz4Ex7Rc0Tv3Yb6Un', 1, '2025-08-04 12:00:00', null);

  const usage = db.prepare(`INSERT INTO usage_log
    (id, timestamp, model, promptTokens, completionTokens, totalTokens, estimatedCostUSD, api_key_id, ingest_token_id, source, event_id)
    VALUES (@id, @timestamp, @model, @prompt, @completion, @total, @cost, @apiKey, @token, @source, @event)`);
  const row = (
    id: number,
    fields: Partial<
      Record<
        | 'timestamp'
        | 'model'
        | 'prompt'
        | 'completion'
        | 'total'
        | 'cost'
        | 'apiKey'
        | 'token'
        | 'source'
        | 'event',
        unknown
      >
    >,
  ) =>
    usage.run({
      id,
      timestamp: null,
      model: 'gpt-4o-mini',
      prompt: 0,
      completion: 0,
      total: 0,
      cost: 0,
      apiKey: null,
      token: null,
      source: 'ingest',
      event: null,
      ...fields,
    });
  row(ROWS.offsetPlusZero, {
    timestamp: '2025-08-24T13:53:26+00:00',
    prompt: 1000,
    completion: 500,
    total: 1500,
    cost: 0.00045,
    token: 1,
    event: 'chatcmpl-1',
  });
  row(ROWS.zulu, {
    timestamp: '2025-08-25T09:00:00Z',
    model: 'gpt-4o',
    prompt: 100,
    completion: 50,
    total: 150,
    cost: 0.00225,
    token: 2,
  });
  row(ROWS.offsetWithMicroseconds, {
    timestamp: '2025-08-26T10:00:00.123456+02:00',
    prompt: 10,
    completion: 5,
    total: 15,
    cost: 0.0000045,
    token: 1,
  });
  row(ROWS.logWithoutTimestamp, {
    timestamp: null,
    prompt: 7,
    completion: 3,
    total: 10,
    cost: 0.5,
    source: 'legacy',
  });
  row(ROWS.orphanedByDelete, {
    timestamp: '2025-08-27T12:00:00Z',
    prompt: 20,
    completion: 10,
    total: 30,
    cost: 0.000009,
    token: 4,
    event: 'evt-5',
  });
  row(ROWS.deletedTokenStillReferenced, {
    timestamp: '2025-08-27T13:00:00Z',
    prompt: 1,
    completion: 1,
    total: 2,
    cost: 0,
    token: 9,
  });
  row(ROWS.notADate, {
    timestamp: 'not-a-date',
    prompt: 5,
    completion: 5,
    total: 10,
    cost: 0.0000045,
    token: 1,
  });
  row(ROWS.probeNaive, {
    timestamp: '2025-07-01T00:00:00',
    model: 'gpt-4o-mini-2024-07-18',
    prompt: 2000,
    completion: 0,
    total: 2000,
    cost: 0.0003,
    apiKey: 1,
    source: 'probe',
  });
  row(ROWS.logSpaceSeparated, {
    timestamp: '2025-08-28 10:00:00',
    prompt: null,
    completion: null,
    total: null,
    cost: null,
    source: 'legacy',
  });
  row(ROWS.negativeCost, {
    timestamp: '2025-08-28T11:00:00Z',
    prompt: 1000,
    completion: 0,
    total: 1000,
    cost: -5,
    token: 2,
  });
  row(ROWS.noModel, {
    timestamp: '2025-08-28T12:00:00Z',
    model: null,
    prompt: 1,
    completion: 1,
    total: 2,
    source: 'legacy',
  });
  row(ROWS.textTokenCount, {
    timestamp: '2025-08-28T13:00:00Z',
    prompt: 'abc',
    completion: 1,
    total: 1,
    source: 'legacy',
  });
  row(ROWS.unknownModel, {
    timestamp: '2025-08-29T08:00:00Z',
    model: 'ft:gpt-4o-mini:acme::abc123',
    prompt: 300,
    completion: 200,
    total: 500,
    cost: 0.000165,
    token: 2,
    event: 'chatcmpl-13',
  });
  row(ROWS.sameEventOtherToken, {
    timestamp: '2025-08-29T09:00:00Z',
    prompt: 1,
    completion: 2,
    total: 3,
    cost: 0.0000014,
    token: 2,
    event: 'chatcmpl-1',
  });
  row(ROWS.inactiveTokenRow, {
    timestamp: '2025-07-20T08:00:00+00:00',
    model: 'gpt-4o',
    prompt: 1000,
    completion: 1000,
    total: 2000,
    cost: 0.0125,
    token: 3,
  });

  db.prepare('DELETE FROM ingest_tokens WHERE id = 4').run();
  db.pragma('foreign_keys = OFF');
  db.prepare('DELETE FROM ingest_tokens WHERE id = 9').run();
  db.close();
}

/** A v0.2 database: provider-key polling ("probe" rows), no tracking tokens yet. */
export function createOriginalV02(file: string): void {
  const db = new Database(file);
  db.exec(V02_SCHEMA);
  db.prepare(`INSERT INTO api_keys (label, provider, enc_key) VALUES ('team key', 'openai', ?)`).run(
    Buffer.from('cipher'),
  );
  const usage = db.prepare(
    `INSERT INTO usage_log (timestamp, model, promptTokens, completionTokens, totalTokens, estimatedCostUSD, api_key_id, source)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  usage.run('2025-03-01T00:00:00+00:00', 'gpt-4o-mini', 1000, 1000, 2000, 0.00075, 1, 'probe');
  usage.run('2025-03-02T00:00:00+00:00', 'gpt-4o', 100, 100, 200, 0.00125, 1, 'probe');
  usage.run('2025-03-03T00:00:00', 'gpt-4o-mini', 10, 0, 10, 0.0000015, null, 'legacy');
  db.close();
}
