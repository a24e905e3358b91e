-- The redis-hybrid cache's database side: counters that keep counting while
-- Redis is unreachable, and the journal of keys changed meanwhile, which are
-- invalidated in Redis before it is trusted again. Indexes live in CREATE TABLE
-- because MySQL has no CREATE INDEX IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS cache_counters (
    cache_key VARCHAR(255) NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL,
    expires_at DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS cache_journal (
    cache_key VARCHAR(255) NOT NULL PRIMARY KEY,
    recorded_at DATETIME(6) NOT NULL,
    INDEX cache_journal_recorded_at (recorded_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
