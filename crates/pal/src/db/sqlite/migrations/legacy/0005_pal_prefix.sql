-- pal's tables were once named sessions, audit_log, cache_counters and
-- cache_journal: names an application's own schema wants. This runs only where
-- 0001_initial ran, so only tables pal created are renamed. `users` keeps its
-- name: it belongs to the reference service, whose migrations now own it.
-- SQLite cannot rename an index, so each is dropped and made again.
ALTER TABLE sessions RENAME TO pal_sessions;
DROP INDEX IF EXISTS sessions_expires_at;
CREATE INDEX IF NOT EXISTS pal_sessions_expires_at ON pal_sessions (expires_at);
ALTER TABLE audit_log RENAME TO pal_audit_log;
DROP INDEX IF EXISTS audit_log_occurred_at;
CREATE INDEX IF NOT EXISTS pal_audit_log_occurred_at ON pal_audit_log (occurred_at);
ALTER TABLE cache_counters RENAME TO pal_cache_counters;
DROP INDEX IF EXISTS cache_counters_expires_at;
CREATE INDEX IF NOT EXISTS pal_cache_counters_expires_at ON pal_cache_counters (expires_at);
ALTER TABLE cache_journal RENAME TO pal_cache_journal;
DROP INDEX IF EXISTS cache_journal_recorded_at;
CREATE INDEX IF NOT EXISTS pal_cache_journal_recorded_at ON pal_cache_journal (recorded_at);
