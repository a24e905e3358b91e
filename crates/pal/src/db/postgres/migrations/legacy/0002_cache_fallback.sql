-- The redis-hybrid cache's database side: counters that keep counting while
-- Redis is unreachable, and the journal of keys changed meanwhile, which are
-- invalidated in Redis before it is trusted again.
CREATE TABLE IF NOT EXISTS cache_counters (
    cache_key TEXT PRIMARY KEY,
    value BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS cache_journal (
    cache_key TEXT PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS cache_journal_recorded_at ON cache_journal (recorded_at);
