-- Daftar sync-server schema, version 5 (SQLite backend): sign-in attempts in the database
-- (they were in memory), so every instance and a restarted server count the same failures
-- (sync-server/src/limiter.rs). `key` is `user:<name>` or `ip:<address>`.
CREATE TABLE login_attempts (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL,
    at          INTEGER NOT NULL            -- unix ms
);
CREATE INDEX login_attempts_key ON login_attempts(key, at);
CREATE INDEX login_attempts_at ON login_attempts(at);
