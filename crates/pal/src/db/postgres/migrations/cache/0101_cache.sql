-- The database side of the cache (redis-hybrid, and durable sessions): entries
-- with their expiry, counters that keep counting while Redis is unreachable, and
-- the journal of keys changed meanwhile, invalidated in Redis before it is
-- trusted again. PostgreSQL and CockroachDB: every statement is idempotent and
-- nothing relies on sequences, advisory locks or LISTEN/NOTIFY. TEXT compares
-- byte-exactly under the database's deterministic collation.
CREATE TABLE IF NOT EXISTS pal_sessions (
    id TEXT PRIMARY KEY,
    data BYTEA NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS pal_sessions_expires_at ON pal_sessions (expires_at);

CREATE TABLE IF NOT EXISTS pal_cache_counters (
    cache_key TEXT PRIMARY KEY,
    value BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS pal_cache_counters_expires_at ON pal_cache_counters (expires_at);

CREATE TABLE IF NOT EXISTS pal_cache_journal (
    cache_key TEXT PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS pal_cache_journal_recorded_at ON pal_cache_journal (recorded_at);
