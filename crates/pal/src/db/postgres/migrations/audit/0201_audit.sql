-- The audit log (PostgreSQL and CockroachDB). Ids are supplied by pal.
CREATE TABLE IF NOT EXISTS pal_audit_log (
    id UUID PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    ip TEXT,
    details JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS pal_audit_log_occurred_at ON pal_audit_log (occurred_at);
