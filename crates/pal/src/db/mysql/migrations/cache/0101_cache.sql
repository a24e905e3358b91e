-- The database side of the cache (redis-hybrid, and durable sessions): entries
-- with their expiry, counters that keep counting while Redis is unreachable, and
-- the journal of keys changed meanwhile, invalidated in Redis before it is
-- trusted again. MySQL and MariaDB commit DDL by itself, so every statement is
-- idempotent and indexes live in CREATE TABLE. Keys compare byte-exactly (a
-- binary collation without trailing-space padding: MariaDB's utf8mb4_nopad_bin,
-- MySQL's utf8mb4_0900_bin, which pal substitutes there) and may be up to 768
-- characters (InnoDB's 3072-byte index limit). DATETIME(6) holds UTC.
CREATE TABLE IF NOT EXISTS pal_sessions (
    id VARCHAR(768) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    data LONGBLOB NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    INDEX pal_sessions_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS pal_cache_counters (
    cache_key VARCHAR(768) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    INDEX pal_cache_counters_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS pal_cache_journal (
    cache_key VARCHAR(768) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    recorded_at DATETIME(6) NOT NULL,
    INDEX pal_cache_journal_recorded_at (recorded_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
