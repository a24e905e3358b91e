-- Timestamps are stored as fixed-width UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ),
-- written only by pal, so text comparison orders them correctly.
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY NOT NULL,
    data BLOB NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);

CREATE TABLE IF NOT EXISTS audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    ip TEXT,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_occurred_at ON audit_log (occurred_at);

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    verified BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
