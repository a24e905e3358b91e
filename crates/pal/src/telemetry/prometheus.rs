//! A Prometheus recorder for pal's metrics, for applications that serve
//! `/metrics` (as `pal serve` does): the exporter is a well-kept crate; pal adds
//! the buckets and the descriptions.

pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use super::*;
use crate::error::ErrorKind;

/// A builder with pal's latency buckets on every `_seconds` histogram, to add
/// an HTTP listener or global labels to.
pub fn builder() -> Result<PrometheusBuilder> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), LATENCY_BUCKETS)
        .map_err(|e| Error::new(ErrorKind::Config, format!("metrics buckets: {e}")))
}

/// A recorder with pal's buckets, not yet installed.
pub fn recorder() -> Result<PrometheusRecorder> {
    Ok(builder()?.build_recorder())
}

/// Installs the recorder for the whole process and describes pal's metrics.
/// Call it before building the providers: they take their handles when built.
pub fn install() -> Result<PrometheusHandle> {
    let recorder = recorder()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| Error::new(ErrorKind::Config, "a metrics recorder is already installed in this process"))?;
    describe();
    Ok(handle)
}

/// The `# HELP` line of each metric.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(CACHE_DURATION, Unit::Seconds, "Latency of cache calls, by provider and operation");
    describe_counter!(CACHE_OPERATIONS, "Cache calls, by provider, operation and outcome (ok, error)");
    describe_counter!(CACHE_ERRORS, "Failed cache calls, by provider, operation and error kind");
    describe_counter!(CACHE_HITS, "Cache gets that found the key, by provider");
    describe_counter!(CACHE_MISSES, "Cache gets that did not find the key, by provider");
    describe_counter!(NEAR_HITS, "Gets the near cache answered from process memory, by provider");
    describe_counter!(NEAR_MISSES, "Gets the near cache passed to the server, by provider");
    describe_counter!(NEAR_INVALIDATIONS, "Near cache entries dropped, by provider and cause");
    describe_gauge!(NEAR_ENTRIES, "Near cache entries held, by provider");
    describe_gauge!(NEAR_BYTES, Unit::Bytes, "Near cache bytes held (keys, values, bookkeeping), by provider");
    describe_gauge!(NEAR_TRACKING, "Whether the near cache receives invalidations and serves (1) or not (0)");
    describe_histogram!(DB_DURATION, Unit::Seconds, "Latency of database calls, by provider and operation");
    describe_counter!(DB_OPERATIONS, "Database calls, by provider, operation and outcome (ok, error)");
    describe_counter!(DB_ERRORS, "Failed database calls, by provider, operation and error kind");
    describe_histogram!(DB_ACQUIRE_DURATION, Unit::Seconds, "Wait for a pooled database connection, by provider");
    describe_gauge!(DB_CONNECTIONS, "Connections of the database pool, by provider and state (in_use, idle)");
    describe_counter!(DB_REPLICA_READS, "Reads on the read path, by who served them (a replica or primary) and why");
    describe_gauge!(DB_REPLICA_USABLE, "Whether a read replica gets reads (1) or not (0), by replica");
    describe_gauge!(DB_REPLICA_LAG, Unit::Seconds, "A read replica's lag at its last check, by replica");
    describe_counter!(DB_REPLICA_TRANSITIONS, "Read replica state changes, by replica and new state");
    describe_counter!(HYBRID_FALLBACKS, "redis-hybrid calls served by the database, by operation");
    describe_histogram!(
        HYBRID_FALLBACK_DURATION,
        Unit::Seconds,
        "Database latency of redis-hybrid calls served by the database, by operation"
    );
    describe_counter!(HYBRID_REPOPULATIONS, "Values read from the database on a Redis miss and put back into Redis");
    describe_gauge!(HYBRID_BREAKER_STATE, "redis-hybrid circuit breaker: 0 closed, 1 open, 2 half-open");
    describe_counter!(HYBRID_BREAKER_TRANSITIONS, "redis-hybrid circuit breaker changes, by the state entered");
    describe_gauge!(HYBRID_JOURNAL_SIZE, "Keys changed while Redis was unavailable and not yet invalidated in it");
    describe_counter!(HYBRID_DATABASE_WRITE_FAILURES, "Writes that reached Redis but not their database copy");
    describe_counter!(HYBRID_PURGED_ROWS, "Expired rows deleted from the database, by table");
    describe_histogram!(HYBRID_COPY_BATCH_ROWS, "Rows per batch of the write-behind database copy");
    describe_gauge!(AUDIT_PENDING, "Audit events in memory, not yet delivered");
    describe_gauge!(AUDIT_OLDEST_PENDING, Unit::Seconds, "Age of the oldest audit event in memory");
    describe_histogram!(AUDIT_FLUSH_DURATION, Unit::Seconds, "Time to store one batch of audit events");
    describe_histogram!(AUDIT_BATCH_EVENTS, "Audit events per stored batch");
    describe_counter!(AUDIT_RETRIES, "Audit batches that failed and were tried again");
    describe_counter!(AUDIT_SPOOLED, "Audit events written to the local spool");
    describe_counter!(AUDIT_DROPPED, "Audit events dropped by AUDIT_OVERFLOW=drop");
    describe_counter!(AUDIT_DELIVERED, "Audit events stored in the database");
    describe_gauge!(
        AUDIT_SPOOLED_ELSEWHERE,
        "Audit events in other spools of AUDIT_SPOOL_DIR, which this process does not deliver: for other databases, set aside, or unbound"
    );
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by method, route template (or (no route)) and status");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Latency of HTTP requests, by method and route template");
    describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests being served now");
    describe_counter!(HTTP_SHED, "HTTP requests refused at once (503 overloaded): too many were in flight");
    describe_counter!(HTTP_TIMED_OUT, "HTTP requests cut at their deadline (503 timeout)");
    describe_counter!(
        HTTP_CONNECTIONS_CLOSED,
        "HTTP connections the server closed on its own, by reason: header_timeout, idle_timeout, evicted (to make \
         room for a newcomer), refused (every connection was serving a request)"
    );
    describe_gauge!(PROVIDER_UP, "Whether the provider answers its probe, by role and provider");
    describe_gauge!(PROVIDER_DEGRADED, "Whether the provider serves with a part of it down, by role and provider");
}
