-- The audit log. Timestamps are fixed-width UTC text written only by pal.
CREATE TABLE IF NOT EXISTS pal_audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    ip TEXT,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pal_audit_log_occurred_at ON pal_audit_log (occurred_at);
