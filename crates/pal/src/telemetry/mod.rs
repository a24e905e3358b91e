//! What every instrumentation layer shares: the names of pal's metrics, and
//! handles registered once per provider and operation, so a call records through
//! a handle instead of looking its series up by name and labels each time.
//!
//! pal records through the [`metrics`] facade; which exporter (if any) collects
//! them is the application's choice, made before the providers are built:
//! handles taken before a recorder is installed record nothing.

use std::time::Duration;

use metrics::{Counter, Histogram};

use crate::env::Var;
use crate::error::{Error, Result};

/// The variables the instrumentation reads.
pub const VARS: &[Var] = &[Var::new(
    "METRICS_ENABLED",
    Some("true"),
    "Record metrics (latency, calls, errors, hits, fallbacks) through the `metrics` facade; false removes the layer",
)];

/// Latency of each call, in seconds, by `provider` and `op`.
pub const CACHE_DURATION: &str = "pal_cache_operation_duration_seconds";
/// Calls by `provider`, `op` and `outcome` (`ok` or `error`).
pub const CACHE_OPERATIONS: &str = "pal_cache_operations_total";
/// Failed calls by `provider`, `op` and `kind` (the [`ErrorKind`](crate::ErrorKind) label).
pub const CACHE_ERRORS: &str = "pal_cache_errors_total";
/// `get` calls that found the key, by `provider`.
pub const CACHE_HITS: &str = "pal_cache_hits_total";
/// Gets the near cache answered from process memory.
pub const NEAR_HITS: &str = "pal_cache_near_hits_total";
/// Gets the near cache passed to the server.
pub const NEAR_MISSES: &str = "pal_cache_near_misses_total";
/// Near cache entries dropped, by cause.
pub const NEAR_INVALIDATIONS: &str = "pal_cache_near_invalidations_total";
/// Near cache entries held.
pub const NEAR_ENTRIES: &str = "pal_cache_near_entries";
/// Near cache bytes held, as weighed.
pub const NEAR_BYTES: &str = "pal_cache_near_bytes";
/// 1 while the near cache receives invalidations and serves, else 0.
pub const NEAR_TRACKING: &str = "pal_cache_near_tracking";
/// `get` calls that did not, by `provider`.
pub const CACHE_MISSES: &str = "pal_cache_misses_total";

/// Latency of each database call, in seconds, by `provider` and `op`.
pub const DB_DURATION: &str = "pal_db_operation_duration_seconds";
/// Database calls by `provider`, `op` and `outcome` (`ok` or `error`).
pub const DB_OPERATIONS: &str = "pal_db_operations_total";
/// Failed database calls by `provider`, `op` and `kind` (the [`ErrorKind`](crate::ErrorKind) label).
pub const DB_ERRORS: &str = "pal_db_errors_total";
/// How long calls waited for a pooled connection, in seconds, by `provider`.
pub const DB_ACQUIRE_DURATION: &str = "pal_db_pool_acquire_duration_seconds";
/// Connections of the pool, by `provider` and `state` (`in_use` or `idle`).
pub const DB_CONNECTIONS: &str = "pal_db_pool_connections";
/// Reads on the read path, by `served_by` (a replica's `host:port`, or `primary`)
/// and `reason` (`replica`; for the primary `no_replica`, `behind` or `failed`).
pub const DB_REPLICA_READS: &str = "pal_db_replica_reads_total";
/// Whether each replica gets reads (1) or not (0), by `replica`.
pub const DB_REPLICA_USABLE: &str = "pal_db_replica_usable";
/// Each replica's lag at its last check, in seconds, by `replica`.
pub const DB_REPLICA_LAG: &str = "pal_db_replica_lag_seconds";
/// Replica state changes, by `replica` and the state `to` which it went.
pub const DB_REPLICA_TRANSITIONS: &str = "pal_db_replica_transitions_total";

/// Calls of redis-hybrid served by the database, by `op`.
pub const HYBRID_FALLBACKS: &str = "pal_hybrid_fallbacks_total";
/// Latency of the database call of a fallback, in seconds, by `op`.
pub const HYBRID_FALLBACK_DURATION: &str = "pal_hybrid_fallback_duration_seconds";
/// Values read from the database on a Redis miss and put back into Redis.
pub const HYBRID_REPOPULATIONS: &str = "pal_hybrid_repopulations_total";
/// 0 closed (Redis used), 1 open (database only), 2 half-open (one probe on Redis).
pub const HYBRID_BREAKER_STATE: &str = "pal_hybrid_breaker_state";
/// Breaker changes, by the state `to` which it went.
pub const HYBRID_BREAKER_TRANSITIONS: &str = "pal_hybrid_breaker_transitions_total";
/// Keys changed in the database while Redis was unavailable, not yet invalidated in Redis.
pub const HYBRID_JOURNAL_SIZE: &str = "pal_hybrid_journal_size";
/// Writes that reached Redis but not their database copy.
pub const HYBRID_DATABASE_WRITE_FAILURES: &str = "pal_hybrid_database_write_failures_total";
/// Expired rows deleted, by `table`.
pub const HYBRID_PURGED_ROWS: &str = "pal_hybrid_purged_rows_total";
/// Rows per batch of the write-behind copy.
pub const HYBRID_COPY_BATCH_ROWS: &str = "pal_hybrid_copy_batch_rows";

/// Audit events in memory, not yet delivered.
pub const AUDIT_PENDING: &str = "pal_audit_pending";
/// Age of the oldest audit event in memory, in seconds.
pub const AUDIT_OLDEST_PENDING: &str = "pal_audit_oldest_pending_seconds";
/// Time to store one batch, in seconds.
pub const AUDIT_FLUSH_DURATION: &str = "pal_audit_flush_duration_seconds";
/// Events per stored batch.
pub const AUDIT_BATCH_EVENTS: &str = "pal_audit_batch_events";
/// Batches that failed and were tried again.
pub const AUDIT_RETRIES: &str = "pal_audit_retries_total";
/// Events written to the local spool.
pub const AUDIT_SPOOLED: &str = "pal_audit_spooled_total";
/// Events dropped by `AUDIT_OVERFLOW=drop`.
pub const AUDIT_DROPPED: &str = "pal_audit_dropped_total";
/// Events stored in the database.
pub const AUDIT_DELIVERED: &str = "pal_audit_delivered_total";
/// Events in the other spools of `AUDIT_SPOOL_DIR`: for other databases, set
/// aside, or from before spools were bound to one.
pub const AUDIT_SPOOLED_ELSEWHERE: &str = "pal_audit_spooled_elsewhere";

/// Whether each provider answers (1) or not (0), by `role` and `provider`.
pub const PROVIDER_UP: &str = "pal_provider_up";
/// Whether a provider that answers does so with a part of it down (1), by `role` and `provider`.
pub const PROVIDER_DEGRADED: &str = "pal_provider_degraded";

/// HTTP requests answered, by `method`, `route` (the route template, or
/// `(no route)`) and `status`: recorded by a server built on pal, such as `pal serve`.
pub const HTTP_REQUESTS: &str = "pal_http_requests_total";
/// Latency of each HTTP request, in seconds, by `method` and `route`.
pub const HTTP_DURATION: &str = "pal_http_request_duration_seconds";
/// HTTP requests being served now.
pub const HTTP_IN_FLIGHT: &str = "pal_http_requests_in_flight";
/// HTTP requests refused at once because too many were in flight.
pub const HTTP_SHED: &str = "pal_http_requests_shed_total";
/// HTTP requests cut at their deadline.
pub const HTTP_TIMED_OUT: &str = "pal_http_requests_timed_out_total";
/// Counter: connections the server closed on its own, by reason.
pub const HTTP_CONNECTIONS_CLOSED: &str = "pal_http_connections_closed_total";

/// Histogram buckets (seconds) for every `_seconds` metric: fine enough around
/// the thresholds that matter (1 ms, 10 ms, 100 ms) to tell them apart, and up
/// to 10 s, past the default request deadline (5 s) of `pal serve`.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// The series of one operation of one provider.
pub(crate) struct OpMetrics {
    provider: &'static str,
    op: &'static str,
    duration: Histogram,
    ok: Counter,
    error: Counter,
    errors: &'static str,
}

impl OpMetrics {
    pub(crate) fn new(names: [&'static str; 3], provider: &'static str, op: &'static str) -> OpMetrics {
        let [duration, operations, errors] = names;
        OpMetrics {
            provider,
            op,
            duration: metrics::histogram!(duration, "provider" => provider, "op" => op),
            ok: metrics::counter!(operations, "provider" => provider, "op" => op, "outcome" => "ok"),
            error: metrics::counter!(operations, "provider" => provider, "op" => op, "outcome" => "error"),
            errors,
        }
    }

    /// Runs `call`, timed and counted, unless it is one of pal's own calls.
    pub(crate) async fn measure<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        if is_own_call() {
            return call.await;
        }
        let started = std::time::Instant::now();
        let outcome = call.await;
        self.record(started.elapsed(), &outcome);
        outcome
    }

    /// Records one call that took `elapsed`. Errors are rare, so their per-kind
    /// series is looked up when one happens rather than registered for every kind.
    pub(crate) fn record<T>(&self, elapsed: Duration, outcome: &Result<T>) {
        self.duration.record(elapsed.as_secs_f64());
        match outcome {
            Ok(_) => self.ok.increment(1),
            Err(e) => {
                self.error.increment(1);
                self.count_error(e);
            }
        }
    }

    fn count_error(&self, e: &Error) {
        metrics::counter!(self.errors, "provider" => self.provider, "op" => self.op, "kind" => e.kind().label())
            .increment(1);
    }
}

tokio::task_local! {
    /// Set while pal calls a provider for itself (the sealing key record): such
    /// calls are not the application's traffic, and would skew its rates.
    static OWN_CALL: ();
}

/// Runs `call` as pal's own: the metrics layers leave its calls out.
pub async fn own_call<T>(call: impl Future<Output = T>) -> T {
    OWN_CALL.scope((), call).await
}

/// Whether the running task is making one of pal's own calls.
pub(crate) fn is_own_call() -> bool {
    OWN_CALL.try_with(|()| ()).is_ok()
}

pub mod http;
#[cfg(feature = "prometheus")]
pub mod prometheus;
