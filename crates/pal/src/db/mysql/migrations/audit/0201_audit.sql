-- The audit log (MySQL and MariaDB). DATETIME(6) holds UTC; JSON is an alias of
-- LONGTEXT with a validity check on MariaDB, read back as JSON either way.
CREATE TABLE IF NOT EXISTS pal_audit_log (
    id CHAR(36) NOT NULL PRIMARY KEY,
    occurred_at DATETIME(6) NOT NULL,
    actor TEXT NULL,
    action TEXT NOT NULL,
    ip VARCHAR(64) NULL,
    details JSON NOT NULL,
    INDEX pal_audit_log_occurred_at (occurred_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
