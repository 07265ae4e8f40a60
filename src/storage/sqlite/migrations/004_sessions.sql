-- Dashboard sign-in sessions. Only a SHA-256 of the session id is stored: whoever reads the
-- database cannot sign in with it. Deleting a row signs that browser out.
CREATE TABLE admin_sessions (
  id_hash    TEXT    PRIMARY KEY,         -- hex SHA-256 of the cookie value
  created_at INTEGER NOT NULL,            -- ms since epoch, UTC
  expires_at INTEGER NOT NULL,            -- ms since epoch, UTC; the row is void after it
  remember   INTEGER NOT NULL CHECK (remember IN (0, 1))
);
CREATE INDEX idx_admin_sessions_expires ON admin_sessions(expires_at);
