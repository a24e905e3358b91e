-- PostgreSQL and CockroachDB. Every statement is idempotent (IF NOT EXISTS) and
-- nothing relies on SERIAL, sequences, advisory locks or LISTEN/NOTIFY, which
-- CockroachDB lacks or implements differently. Keys are supplied by the application.
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    data BYTEA NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);

CREATE TABLE IF NOT EXISTS audit_log (
    id UUID PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    ip TEXT,
    details JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_occurred_at ON audit_log (occurred_at);

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
