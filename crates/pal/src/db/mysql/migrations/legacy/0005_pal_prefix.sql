-- pal's tables were once named sessions, audit_log, cache_counters and
-- cache_journal: names an application's own schema wants. This runs only where
-- 0001_initial ran, so only tables pal created are renamed, all four in one
-- atomic statement (a rerun finds them renamed and moves on). Index names are
-- per table here, so they stay. `users` keeps its name: it belongs to the
-- reference service, whose migrations now own it.
RENAME TABLE sessions TO pal_sessions, audit_log TO pal_audit_log, cache_counters TO pal_cache_counters,
    cache_journal TO pal_cache_journal;
