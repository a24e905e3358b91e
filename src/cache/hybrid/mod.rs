//! `CACHE_PROVIDER=redis-hybrid`: Redis in front, the database behind.
//!
//! Reads try Redis and fall back to the database on a miss or a failure,
//! re-populating Redis with the remaining TTL. Writes go to Redis and (with
//! `POSTGRES_FALLBACK_CACHE`) to the database. While Redis is unreachable a
//! circuit breaker sends every call straight to the database, and every key
//! written, deleted or counted meanwhile is journaled there; before the breaker
//! closes, and periodically on every instance, journaled keys are invalidated in
//! Redis, so nothing changed during an outage is served stale from Redis after it.

mod breaker;
mod failback;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{CacheService, Ttl};
use crate::db::{CacheFallback, FallbackEntry};
use crate::error::Result;
pub use breaker::State as BreakerState;
use breaker::{Breaker, Route};

const PROVIDER: &str = "redis-hybrid";
const DRAIN_BATCH: i64 = 500;

#[derive(Debug, Clone)]
pub struct HybridConfig {
    /// `POSTGRES_FALLBACK_CACHE`: also write to the database while Redis is healthy.
    pub write_through: bool,
    /// `FALLBACK_RETRY_ATTEMPTS`: tries on Redis for a transient error, breaker closed.
    pub attempts: u32,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    pub drain_interval: Duration,
}

/// Counts of what the hybrid did, for tests and operators; the same figures go to
/// the `metrics` facade.
#[derive(Debug, Default)]
pub struct HybridStats {
    pub redis_hits: AtomicU64,
    pub redis_misses: AtomicU64,
    /// Calls served by the database because Redis was unavailable.
    pub fallbacks: AtomicU64,
    /// Writes that reached Redis but not the database copy.
    pub database_write_failures: AtomicU64,
    pub journal_size: AtomicI64,
}

struct Inner {
    redis: Arc<dyn CacheService>,
    db: Arc<CacheFallback>,
    config: HybridConfig,
    breaker: Breaker,
    stats: HybridStats,
    database_degraded: AtomicBool,
    /// One drain at a time per instance (instances may drain concurrently: it is idempotent).
    draining: tokio::sync::Mutex<()>,
}

pub struct HybridCache {
    inner: Arc<Inner>,
    drainer: tokio::task::JoinHandle<()>,
}

impl Drop for HybridCache {
    fn drop(&mut self) {
        self.drainer.abort();
    }
}

impl HybridCache {
    /// Starts the periodic drainer, which also drains any journal left by another
    /// (or a crashed) instance right away.
    pub fn new(redis: Arc<dyn CacheService>, db: Arc<CacheFallback>, config: HybridConfig) -> Self {
        let inner = Arc::new(Inner {
            breaker: Breaker::new(config.breaker_threshold, config.breaker_cooldown),
            redis,
            db,
            config,
            stats: HybridStats::default(),
            database_degraded: AtomicBool::new(false),
            draining: tokio::sync::Mutex::new(()),
        });
        let drainer = tokio::spawn(failback::periodic_drain(Arc::downgrade(&inner)));
        HybridCache { inner, drainer }
    }

    pub fn stats(&self) -> &HybridStats {
        &self.inner.stats
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// Invalidates every journaled key in Redis now; returns how many.
    pub async fn drain_journal(&self) -> Result<usize> {
        self.inner.drain().await
    }
}

fn remaining(expires_at: DateTime<Utc>) -> Option<Ttl> {
    (expires_at - Utc::now()).to_std().ok().and_then(|d| Ttl::new(d).ok())
}

fn expiry(ttl: Ttl) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl.as_duration()).unwrap_or(chrono::Duration::MAX)
}

impl Inner {
    fn set_gauges(&self) {
        metrics::gauge!("pal_cache_breaker_state").set(self.breaker.state().as_gauge());
    }

    /// Runs `op` on Redis when the breaker allows it, retrying transient errors.
    /// `None` means Redis is unavailable and the caller must use the database.
    async fn on_redis<T, F, Fut>(self: &Arc<Self>, retry: bool, op: F) -> Option<Result<T>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match self.breaker.route() {
            Route::Redis => {}
            Route::Database => return None,
            Route::Probe => {
                self.set_gauges();
                tokio::spawn(self.clone().probe());
                return None;
            }
        }
        let attempts = if retry { self.config.attempts.max(1) } else { 1 };
        for attempt in 0..attempts {
            match op().await {
                Ok(value) => {
                    self.breaker.success();
                    return Some(Ok(value));
                }
                Err(e) if e.is_temporary() => {
                    if self.breaker.failure() {
                        self.set_gauges();
                        tracing::warn!(error = %e, "redis-hybrid: Redis unavailable, circuit breaker open: serving from the database");
                    }
                    if self.breaker.state() != BreakerState::Closed {
                        return None;
                    }
                    if attempt + 1 < attempts {
                        tokio::time::sleep(Duration::from_millis(10 << attempt.min(6))).await;
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }

    fn fell_back(&self) {
        self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("pal_cache_fallbacks_total").increment(1);
    }

    /// A write reached Redis; the database copy is best effort and its failure is
    /// logged once per transition and counted.
    fn database_write(&self, result: Result<()>) {
        match result {
            Ok(()) => {
                if self.database_degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis-hybrid: database writes succeed again");
                }
            }
            Err(e) => {
                self.stats.database_write_failures.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("pal_cache_database_write_failures_total").increment(1);
                if !self.database_degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "redis-hybrid: database copy not written; Redis holds the data alone");
                }
            }
        }
    }

    async fn journal(&self, key: &str) -> Result<()> {
        self.db.journal(key).await?;
        self.stats.journal_size.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Puts a value read from the database back into Redis with its remaining
    /// lifetime, best effort. Writers change the database before Redis, so reading
    /// the database again afterwards catches a write or delete that raced with this
    /// one; the possibly stale copy is then removed from Redis.
    async fn repopulate(&self, key: &str, record: &crate::db::SessionRecord) {
        let Some(ttl) = remaining(record.expires_at) else { return };
        if self.redis.set(key, record.data.clone(), ttl).await.is_err() {
            return;
        }
        let unchanged =
            matches!(self.db.get(key).await, Ok(Some(FallbackEntry::Value(now))) if now.data == record.data);
        if !unchanged {
            let _ = self.redis.delete(key).await;
        }
    }

    async fn read_database(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.db.get(key).await?.map(|entry| match entry {
            FallbackEntry::Value(record) => record.data,
            FallbackEntry::Counter { value, .. } => Bytes::from(value.to_string()),
        }))
    }
}

#[async_trait]
impl CacheService for HybridCache {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let inner = &self.inner;
        match inner.on_redis(true, || inner.redis.get(key)).await {
            Some(Ok(Some(value))) => {
                inner.stats.redis_hits.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("pal_cache_hits_total").increment(1);
                Ok(Some(value))
            }
            Some(Ok(None)) => {
                inner.stats.redis_misses.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("pal_cache_misses_total").increment(1);
                match inner.db.get(key).await? {
                    Some(FallbackEntry::Value(record)) => {
                        inner.repopulate(key, &record).await;
                        Ok(Some(record.data))
                    }
                    Some(FallbackEntry::Counter { value, .. }) => Ok(Some(Bytes::from(value.to_string()))),
                    None => Ok(None),
                }
            }
            Some(Err(e)) => Err(e),
            None => {
                inner.fell_back();
                inner.read_database(key).await
            }
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let inner = &self.inner;
        let expires_at = expiry(ttl);
        // The database first, then Redis: with this order a concurrent re-population
        // (see `repopulate`) can never leave an older value in Redis.
        let copy = if inner.config.write_through { Some(inner.db.put(key, &value, expires_at).await) } else { None };
        match inner.on_redis(true, || inner.redis.set(key, value.clone(), ttl)).await {
            Some(Ok(())) => {
                if let Some(copy) = copy {
                    inner.database_write(copy);
                }
                Ok(())
            }
            Some(Err(e)) => Err(e),
            None => {
                inner.fell_back();
                match copy {
                    Some(copy) => copy?,
                    None => inner.db.put(key, &value, expires_at).await?,
                }
                inner.journal(key).await
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let inner = &self.inner;
        // The database copy must go too, and first, or a later Redis miss (or a
        // concurrent re-population) would resurrect it.
        let in_db = inner.db.delete(key).await?;
        match inner.on_redis(true, || inner.redis.delete(key)).await {
            Some(result) => Ok(result? || in_db),
            None => {
                inner.fell_back();
                inner.journal(key).await?;
                Ok(in_db)
            }
        }
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        let inner = &self.inner;
        // Not retried: an increment whose answer was lost may have been applied.
        match inner.on_redis(false, || inner.redis.incr(key, by, ttl_on_create)).await {
            Some(result) => result,
            None => {
                inner.fell_back();
                let value = inner.db.incr(key, by, expiry(ttl_on_create)).await?;
                inner.journal(key).await?;
                Ok(value)
            }
        }
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let inner = &self.inner;
        let expires_at = expiry(ttl);
        match inner.on_redis(true, || inner.redis.touch(key, ttl)).await {
            Some(Ok(in_redis)) => {
                let in_db = if inner.config.write_through {
                    let touched = inner.db.touch(key, expires_at).await;
                    let found = touched.as_ref().is_ok_and(|t| *t);
                    inner.database_write(touched.map(drop));
                    found
                } else {
                    false
                };
                Ok(in_redis || in_db)
            }
            Some(Err(e)) => Err(e),
            None => {
                inner.fell_back();
                let touched = inner.db.touch(key, expires_at).await?;
                inner.journal(key).await?;
                Ok(touched)
            }
        }
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let inner = &self.inner;
        let from_db = || async {
            Ok(inner.db.get(key).await?.and_then(|entry| match entry {
                FallbackEntry::Value(r) => remaining(r.expires_at),
                FallbackEntry::Counter { expires_at, .. } => remaining(expires_at),
            }))
            .map(|t| t.map(Ttl::as_duration))
        };
        match inner.on_redis(true, || inner.redis.ttl(key)).await {
            Some(Ok(Some(left))) => Ok(Some(left)),
            Some(Ok(None)) => from_db().await,
            Some(Err(e)) => Err(e),
            None => {
                inner.fell_back();
                from_db().await
            }
        }
    }

    /// Healthy while either side answers: with Redis down the cache is degraded,
    /// not unavailable.
    async fn ping(&self) -> Result<()> {
        match self.inner.redis.ping().await {
            Ok(()) => Ok(()),
            Err(redis) => self.inner.db.ping().await.map_err(|_| redis),
        }
    }
}
