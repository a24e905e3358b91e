-- The redis-hybrid cache's database side: counters that keep counting while
-- Redis is unreachable, and the journal of keys changed meanwhile, which are
-- invalidated in Redis before it is trusted again.
CREATE TABLE IF NOT EXISTS cache_counters (
    cache_key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS cache_journal (
    cache_key TEXT PRIMARY KEY NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS cache_journal_recorded_at ON cache_journal (recorded_at);
