//! What every call of one hybrid instance shares: both sides, the breaker, the
//! counts, and the rules for trying Redis first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_singleflight::UnaryGroup;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::breaker::{Breaker, Route, State as BreakerState};
use super::copier::Copier;
use super::store::{HybridStore, StoredEntry};
use crate::cache::{CacheService, Ttl};
use crate::error::Result;
use crate::expiring::ExpiringRecord;
use crate::retry;
use crate::telemetry;

/// The wait before the first retry on Redis; later ones double, up to the cap.
const FIRST_RETRY: Duration = Duration::from_millis(10);
const RETRY_CAP: Duration = Duration::from_millis(640);

/// How redis-hybrid retries, trips and recovers: its `CACHE_FALLBACK_*`,
/// `CACHE_BREAKER_*` and `CACHE_JOURNAL_*` variables.
#[derive(Debug, Clone)]
pub struct HybridConfig {
    /// `CACHE_FALLBACK_WRITE_THROUGH`: also write to the database while Redis is healthy.
    pub write_through: bool,
    /// `FALLBACK_RETRY_ATTEMPTS`: tries on Redis for a transient error, breaker closed.
    pub attempts: u32,
    /// `CACHE_BREAKER_FAILURE_THRESHOLD`: failures in a row that open the breaker.
    pub breaker_threshold: u32,
    /// `CACHE_BREAKER_COOLDOWN_MS`: how long the breaker stays open before a probe.
    pub breaker_cooldown: Duration,
    /// `CACHE_JOURNAL_DRAIN_INTERVAL_MS`: how often journaled keys are invalidated in Redis.
    pub drain_interval: Duration,
    /// `CACHE_JOURNAL_WAIT_MS`: how long a new instance's calls wait for its first
    /// drain before they use the database instead of a Redis not yet reconciled.
    pub journal_wait: Duration,
    /// `CACHE_PURGE_INTERVAL_MS`: how often expired rows are deleted.
    pub purge_interval: Duration,
}

/// Counts of what this instance did, for tests; operators read the same figures
/// (summed over instances) from the `metrics` facade.
#[derive(Debug, Default)]
pub struct HybridStats {
    /// `get` calls that Redis answered with a value.
    pub redis_hits: AtomicU64,
    /// `get` calls that Redis answered without one.
    pub redis_misses: AtomicU64,
    /// Calls served by the database because Redis was unavailable or not reconciled.
    pub fallbacks: AtomicU64,
    /// Writes that reached Redis but not the database copy.
    pub database_write_failures: AtomicU64,
    /// Keys changed while Redis was unavailable and not yet invalidated there, as last seen.
    pub journal_size: AtomicI64,
    /// Expired rows this instance deleted.
    pub purged_rows: AtomicU64,
}

pub(super) struct Shared {
    pub(super) redis: Arc<dyn CacheService>,
    pub(super) db: Arc<HybridStore>,
    pub(super) copier: Copier,
    pub(super) config: HybridConfig,
    pub(super) breaker: Breaker,
    pub(super) stats: HybridStats,
    pub(super) database_degraded: AtomicBool,
    /// One drain at a time per instance (instances may drain concurrently: it is idempotent).
    pub(super) draining: tokio::sync::Mutex<()>,
    /// Concurrent misses on one key share one database read.
    pub(super) misses: UnaryGroup<String, Result<Option<StoredEntry>>>,
    /// Whether this instance has drained the journal once, so Redis holds nothing
    /// that changed in the database while some instance could not reach it.
    reconciled: AtomicBool,
    /// Wakes the calls waiting for the first drain: it is done, or Redis cannot
    /// be reached and there is no drain to wait for.
    settled: Notify,
    /// Until then, calls wait for the first drain; afterwards they use the database.
    pub(super) reconcile_by: Instant,
    /// The near cache in front, stopped whenever writes may reach the database
    /// and not Redis (breaker not closed, journal not drained yet): Redis would
    /// then send no invalidation for them.
    pub(super) near: Option<Arc<crate::cache::near::Store>>,
}

pub(super) fn remaining(expires_at: DateTime<Utc>) -> Option<Ttl> {
    (expires_at - Utc::now()).to_std().ok().and_then(|d| Ttl::new(d).ok())
}

pub(super) fn expiry(ttl: Ttl) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl.as_duration()).unwrap_or(chrono::Duration::MAX)
}

impl Shared {
    pub(super) fn new(redis: Arc<dyn CacheService>, db: Arc<HybridStore>, config: HybridConfig) -> Shared {
        Shared {
            breaker: Breaker::new(config.breaker_threshold, config.breaker_cooldown),
            copier: Copier::start(db.clone()),
            redis,
            db,
            reconcile_by: Instant::now() + config.journal_wait,
            config,
            stats: HybridStats::default(),
            database_degraded: AtomicBool::new(false),
            draining: tokio::sync::Mutex::new(()),
            misses: UnaryGroup::new(),
            reconciled: AtomicBool::new(false),
            settled: Notify::new(),
            near: None,
        }
    }

    /// Lets the near cache serve only while Redis takes every write.
    pub(super) fn gate_near(&self) {
        if let Some(near) = &self.near {
            near.suspend(self.breaker.state() != BreakerState::Closed || !self.is_reconciled());
        }
    }

    /// Called at every change of the breaker's state.
    pub(super) fn breaker_changed(&self) {
        let state = self.breaker.state();
        metrics::gauge!(telemetry::HYBRID_BREAKER_STATE).set(state.as_gauge());
        metrics::counter!(telemetry::HYBRID_BREAKER_TRANSITIONS, "to" => state.label()).increment(1);
        self.gate_near();
    }

    pub(super) fn is_reconciled(&self) -> bool {
        self.reconciled.load(Ordering::Acquire)
    }

    pub(super) fn mark_reconciled(&self) {
        if !self.reconciled.swap(true, Ordering::AcqRel) {
            self.gate_near();
            self.settled.notify_waiters();
        }
    }

    /// Opens the breaker because Redis did not answer: calls stop waiting for it,
    /// the first drain included, and use the database until a probe succeeds.
    pub(super) fn redis_unavailable(&self, e: &crate::error::Error, when: &str) {
        if self.breaker.trip() {
            self.breaker_changed();
            tracing::warn!(error = %e, "redis-hybrid: Redis unavailable {when}, circuit breaker open: serving from the database");
        }
        self.settled.notify_waiters();
    }

    /// Whether Redis may be used: the journal has been drained once. Until then a
    /// call waits for that drain, up to `CACHE_JOURNAL_WAIT_MS` after start-up,
    /// unless Redis is found unavailable first.
    async fn reconciled(&self) -> bool {
        if self.is_reconciled() {
            return true;
        }
        // Registered before the checks, so a drain finishing or the breaker opening
        // in between still wakes it.
        let settled = self.settled.notified();
        if self.is_reconciled() {
            return true;
        }
        if self.breaker.state() != BreakerState::Closed {
            return false;
        }
        let _ = tokio::time::timeout_at(self.reconcile_by, settled).await;
        self.is_reconciled()
    }

    /// Runs `op` on Redis when the breaker allows it, retrying transient errors.
    /// `None` means Redis is unavailable, or not reconciled yet, and the caller
    /// must use the database.
    pub(super) async fn on_redis<T, F, Fut>(self: &Arc<Self>, with_retries: bool, op: F) -> Option<Result<T>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match self.breaker.route() {
            Route::Redis => {}
            Route::Database => return None,
            Route::Probe => {
                self.breaker_changed();
                tokio::spawn(self.clone().probe());
                return None;
            }
        }
        if !self.reconciled().await {
            return None;
        }
        let retries = if with_retries { self.config.attempts.max(1) - 1 } else { 0 };
        // Made on the first failure only: a call that succeeds pays nothing for it.
        let mut delays = None;
        loop {
            match op().await {
                Ok(value) => {
                    self.breaker.success();
                    return Some(Ok(value));
                }
                Err(e) if e.is_temporary() => {
                    if self.breaker.failure() {
                        self.breaker_changed();
                        tracing::warn!(error = %e, "redis-hybrid: Redis unavailable, circuit breaker open: serving from the database");
                    }
                    if self.breaker.state() != BreakerState::Closed {
                        return None;
                    }
                    let delays = delays.get_or_insert_with(|| retry::backoff(FIRST_RETRY, RETRY_CAP, retries as usize));
                    tokio::time::sleep(delays.next()?).await;
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Runs `work`, the database's part of a call Redis could not serve, counted and
    /// timed as a fallback of `op`.
    pub(super) async fn fallback<T>(&self, op: &'static str, work: impl Future<Output = Result<T>>) -> Result<T> {
        self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(telemetry::HYBRID_FALLBACKS, "op" => op).increment(1);
        let started = std::time::Instant::now();
        let outcome = work.await;
        metrics::histogram!(telemetry::HYBRID_FALLBACK_DURATION, "op" => op).record(started.elapsed().as_secs_f64());
        outcome
    }

    /// A write reached Redis; its database copy did or did not. A database that is
    /// briefly unreachable only degrades the write (logged once per transition and
    /// counted); any other failure, such as missing tables, fails it.
    pub(super) fn database_write(&self, result: Result<()>) -> Result<()> {
        match result {
            Ok(()) => {
                if self.database_degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis-hybrid: database writes succeed again");
                }
                Ok(())
            }
            Err(e) if e.is_temporary() => {
                self.stats.database_write_failures.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(telemetry::HYBRID_DATABASE_WRITE_FAILURES).increment(1);
                if !self.database_degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "redis-hybrid: database copy not written; Redis holds the data alone");
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    pub(super) async fn journal(&self, key: &str) -> Result<()> {
        self.db.journal(key).await?;
        self.stats.journal_size.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// What the database holds for a key Redis does not have, read once for all
    /// concurrent misses on it, and put back into Redis.
    pub(super) async fn load(&self, key: &str) -> Result<Option<StoredEntry>> {
        self.misses
            .work(key, async {
                let entry = self.db.get(key).await?;
                if let Some(StoredEntry::Value(record)) = &entry {
                    self.repopulate(key, record).await;
                }
                Ok(entry)
            })
            .await
    }

    /// Puts a value read from the database back into Redis with its remaining
    /// lifetime, best effort. Writers change the database before Redis, so reading
    /// the database again afterwards catches a write or delete that raced with this
    /// one; the possibly stale copy is then removed from Redis.
    async fn repopulate(&self, key: &str, record: &ExpiringRecord) {
        let Some(ttl) = remaining(record.expires_at) else { return };
        if self.redis.set(key, record.data.clone(), ttl).await.is_err() {
            return;
        }
        metrics::counter!(telemetry::HYBRID_REPOPULATIONS).increment(1);
        let unchanged = matches!(self.db.get(key).await, Ok(Some(StoredEntry::Value(now))) if now.data == record.data);
        if !unchanged {
            let _ = self.redis.delete(key).await;
        }
    }
}
