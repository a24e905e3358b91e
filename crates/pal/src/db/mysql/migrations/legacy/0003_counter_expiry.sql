-- Retention: expired counters are deleted in batches by expiry, like sessions.
-- MySQL has no CREATE INDEX IF NOT EXISTS; a rerun finds the index and moves on.
CREATE INDEX cache_counters_expires_at ON cache_counters (expires_at);
