-- Retention: expired counters are deleted in batches by expiry, like sessions.
CREATE INDEX IF NOT EXISTS cache_counters_expires_at ON cache_counters (expires_at);
