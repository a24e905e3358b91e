//! The hybrid as a cache: every call tries Redis first and falls back to the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::PROVIDER;
use super::breaker::{Breaker, State as BreakerState};
use super::recovery;
use super::state::{HybridConfig, HybridStats, Shared, expiry, remaining};
use super::store::{HybridStore, StoredEntry};
use crate::cache::{CacheService, Capabilities, Ttl};
use crate::db::DatabaseService;
use crate::error::Result;

pub struct HybridCache {
    inner: Arc<Shared>,
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
    pub fn new(redis: Arc<dyn CacheService>, db: Arc<dyn DatabaseService>, config: HybridConfig) -> Self {
        let inner = Arc::new(Shared {
            breaker: Breaker::new(config.breaker_threshold, config.breaker_cooldown),
            redis,
            db: HybridStore::new(db),
            config,
            stats: HybridStats::default(),
            database_degraded: AtomicBool::new(false),
            draining: tokio::sync::Mutex::new(()),
        });
        let drainer = tokio::spawn(recovery::periodic_drain(Arc::downgrade(&inner)));
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

#[async_trait]
impl CacheService for HybridCache {
    fn provider(&self) -> &'static str {
        PROVIDER.name
    }

    fn capabilities(&self) -> Capabilities {
        PROVIDER.capabilities
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
                    Some(StoredEntry::Value(record)) => {
                        inner.repopulate(key, &record).await;
                        Ok(Some(record.data))
                    }
                    Some(StoredEntry::Counter { value, .. }) => Ok(Some(Bytes::from(value.to_string()))),
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
                StoredEntry::Value(r) => remaining(r.expires_at),
                StoredEntry::Counter { expires_at, .. } => remaining(expires_at),
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
