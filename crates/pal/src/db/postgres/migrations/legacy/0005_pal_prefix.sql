-- pal's tables were once named sessions, audit_log, cache_counters and
-- cache_journal: names an application's own schema wants. This runs only where
-- 0001_initial ran, so only tables pal created are renamed, with their indexes
-- (whose names are schema-wide here and would block the application's own
-- `sessions_pkey`). `users` keeps its name: it belongs to the reference service,
-- whose migrations now own it. IF EXISTS keeps a rerun harmless where DDL
-- commits statement by statement (CockroachDB).
ALTER TABLE IF EXISTS sessions RENAME TO pal_sessions;
ALTER INDEX IF EXISTS sessions_pkey RENAME TO pal_sessions_pkey;
ALTER INDEX IF EXISTS sessions_expires_at RENAME TO pal_sessions_expires_at;
ALTER TABLE IF EXISTS audit_log RENAME TO pal_audit_log;
ALTER INDEX IF EXISTS audit_log_pkey RENAME TO pal_audit_log_pkey;
ALTER INDEX IF EXISTS audit_log_occurred_at RENAME TO pal_audit_log_occurred_at;
ALTER TABLE IF EXISTS cache_counters RENAME TO pal_cache_counters;
ALTER INDEX IF EXISTS cache_counters_pkey RENAME TO pal_cache_counters_pkey;
ALTER INDEX IF EXISTS cache_counters_expires_at RENAME TO pal_cache_counters_expires_at;
ALTER TABLE IF EXISTS cache_journal RENAME TO pal_cache_journal;
ALTER INDEX IF EXISTS cache_journal_pkey RENAME TO pal_cache_journal_pkey;
ALTER INDEX IF EXISTS cache_journal_recorded_at RENAME TO pal_cache_journal_recorded_at;
