-- MySQL and MariaDB. DDL commits by itself here, so every statement is idempotent
-- and indexes live inside CREATE TABLE (MySQL has no CREATE INDEX IF NOT EXISTS).
-- DATETIME(6) has no time zone: pal always writes and reads UTC. JSON is an alias
-- of LONGTEXT with a validity check on MariaDB; pal reads it back as JSON either way.
CREATE TABLE IF NOT EXISTS sessions (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    data LONGBLOB NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    INDEX sessions_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS audit_log (
    id CHAR(36) NOT NULL PRIMARY KEY,
    occurred_at DATETIME(6) NOT NULL,
    actor TEXT NULL,
    action TEXT NOT NULL,
    ip VARCHAR(64) NULL,
    details JSON NOT NULL,
    INDEX audit_log_occurred_at (occurred_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS users (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    email VARCHAR(320) NOT NULL,
    verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE KEY users_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
