-- The database side of the cache (redis-hybrid, and durable sessions): entries
-- with their expiry, counters that keep counting while Redis is unreachable, and
-- the journal of keys changed meanwhile, invalidated in Redis before it is
-- trusted again. Timestamps are fixed-width UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ)
-- written only by pal, so text comparison orders them.
CREATE TABLE IF NOT EXISTS pal_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    data BLOB NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS pal_sessions_expires_at ON pal_sessions (expires_at);

CREATE TABLE IF NOT EXISTS pal_cache_counters (
    cache_key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS pal_cache_counters_expires_at ON pal_cache_counters (expires_at);

CREATE TABLE IF NOT EXISTS pal_cache_journal (
    cache_key TEXT PRIMARY KEY NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS pal_cache_journal_recorded_at ON pal_cache_journal (recorded_at);
