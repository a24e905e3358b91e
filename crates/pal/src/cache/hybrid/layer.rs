//! The hybrid as a cache: every call tries Redis first and falls back to the database.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::PROVIDER;
use super::breaker::{Route, State as BreakerState};
use super::state::{HybridConfig, HybridStats, Shared, expiry, remaining};
use super::store::{HybridStore, StoredEntry};
use super::{conditional, recovery};
use crate::cache::{CacheService, Capabilities, Sampled, Ttl, distinct, last_of_each};
use crate::db::DatabaseService;
use crate::error::{ErrorKind, Result};

/// Redis in front of the database, which serves while Redis is down: writes go to
/// the database too, and the keys changed during an outage are invalidated in Redis
/// before Redis serves again.
pub struct HybridCache {
    inner: Arc<Shared>,
    /// The drainer and the purger.
    background: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for HybridCache {
    fn drop(&mut self) {
        self.background.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

impl HybridCache {
    /// Starts the periodic drainer, which drains any journal left by another (or a
    /// crashed) instance right away: until that first drain is done, calls wait for
    /// it (up to `CACHE_JOURNAL_WAIT_MS`) or use the database. Also starts the purge
    /// of expired rows.
    pub fn new(redis: Arc<dyn CacheService>, db: Arc<dyn DatabaseService>, config: HybridConfig) -> Self {
        Self::with_near(redis, db, config, None)
    }

    /// As [`new`](Self::new), stopping `near` whenever the database takes writes.
    pub(crate) fn with_near(
        redis: Arc<dyn CacheService>,
        db: Arc<dyn DatabaseService>,
        config: HybridConfig,
        near: Option<Arc<crate::cache::near::Store>>,
    ) -> Self {
        let mut shared = Shared::new(redis, Arc::new(HybridStore::new(db)), config);
        shared.near = near;
        shared.gate_near();
        let inner = Arc::new(shared);
        let background = [
            tokio::spawn(recovery::periodic_drain(Arc::downgrade(&inner))),
            tokio::spawn(recovery::periodic_purge(Arc::downgrade(&inner))),
        ];
        HybridCache { inner, background }
    }

    /// What this instance has done.
    pub fn stats(&self) -> &HybridStats {
        &self.inner.stats
    }

    /// The circuit breaker's state now.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// Invalidates every journaled key in Redis now; returns how many.
    pub async fn drain_journal(&self) -> Result<usize> {
        self.inner.drain().await
    }

    /// Deletes expired values and counters from the database now; returns how many.
    pub async fn purge_expired(&self) -> Result<u64> {
        self.inner.purge().await
    }
}

/// A read: from Redis when it may be used, a miss there read from the database
/// (and put back), and from the database alone while Redis may not be used.
/// `answer` makes the caller's answer of a database entry (`None`: expired).
async fn read<T, F, Fut>(
    inner: &Arc<Shared>,
    key: &str,
    from_redis: F,
    answer: fn(StoredEntry) -> Option<T>,
) -> Result<Option<T>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    match inner.on_redis(true, from_redis).await {
        Some(Ok(Some(hit))) => {
            inner.stats.redis_hits.fetch_add(1, Ordering::Relaxed);
            Ok(Some(hit))
        }
        Some(Ok(None)) => {
            inner.stats.redis_misses.fetch_add(1, Ordering::Relaxed);
            Ok(inner.load(key).await?.and_then(answer))
        }
        Some(Err(e)) => Err(e),
        None => inner.fallback("get", async { Ok(inner.db.get(key).await?.and_then(answer)) }).await,
    }
}

// Not a `CacheLayer`: it is made of two caches, Redis and the database's copy,
// and no method has one inner cache to forward to by default. So that a method
// added to the trait cannot take the trait's default here unnoticed, every one is
// written out.
#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl CacheService for HybridCache {
    fn provider(&self) -> &'static str {
        PROVIDER.name
    }

    fn capabilities(&self) -> Capabilities {
        PROVIDER.capabilities
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        read(&self.inner, key, || self.inner.redis.get(key), |entry| Some(entry.into_bytes())).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let inner = &self.inner;
        let expires_at = expiry(ttl);
        // The database first, then Redis: with this order a concurrent re-population
        // (see `repopulate`) can never leave an older value in Redis.
        let copy = match inner.config.write_through {
            true => Some(inner.copier.put(key, value.clone(), expires_at).await),
            false => None,
        };
        if let Some(Err(e)) = &copy
            && !e.is_temporary()
        {
            return Err(e.clone());
        }
        match inner.on_redis(true, || inner.redis.set(key, value.clone(), ttl)).await {
            Some(Ok(())) => copy.map_or(Ok(()), |copy| inner.database_write(copy)),
            Some(Err(e)) => Err(e),
            None => {
                inner
                    .fallback("set", async {
                        match copy {
                            Some(copy) => copy?,
                            None => inner.copier.put(key, value, expires_at).await?,
                        }
                        inner.journal(key).await
                    })
                    .await
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
            None => inner.fallback("delete", async { inner.journal(key).await.map(|()| in_db) }).await,
        }
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        let inner = &self.inner;
        // Not retried: an increment whose answer was lost may have been applied.
        match inner.on_redis(false, || inner.redis.incr(key, by, ttl_on_create)).await {
            Some(result) => result,
            None => {
                inner
                    .fallback("incr", async {
                        let value = inner.db.incr(key, by, expiry(ttl_on_create)).await?;
                        inner.journal(key).await.map(|()| value)
                    })
                    .await
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
                    inner.database_write(touched.map(drop))?;
                    found
                } else {
                    false
                };
                Ok(in_redis || in_db)
            }
            Some(Err(e)) => Err(e),
            None => {
                inner
                    .fallback("touch", async {
                        let touched = inner.db.touch(key, expires_at).await?;
                        inner.journal(key).await.map(|()| touched)
                    })
                    .await
            }
        }
    }

    /// As `get`, with the time left from where the value came from.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Bytes, Duration)>> {
        read(&self.inner, key, || self.inner.redis.get_with_ttl(key), StoredEntry::with_time_left).await
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
            None => inner.fallback("ttl", from_db()).await,
        }
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        conditional::get_many(&self.inner, keys).await
    }

    /// Each entry as `set` stores it (its database copies batched by the copier),
    /// all at once; of a key given twice only the later value is written.
    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let entries = last_of_each(entries, |(key, _)| key);
        futures::future::try_join_all(entries.iter().map(|(key, value)| self.set(key, value.clone(), ttl))).await?;
        Ok(())
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let removed = futures::future::try_join_all(distinct(keys).into_iter().map(|key| self.delete(key))).await?;
        Ok(removed.into_iter().filter(|r| *r).count() as u64)
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        conditional::add(&self.inner, key, value, ttl).await
    }

    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        conditional::delete_if(&self.inner, key, expected).await
    }

    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        conditional::touch_if(&self.inner, key, expected, ttl).await
    }

    /// Healthy while either side answers: with Redis down the cache is degraded,
    /// not unavailable. A database without the hybrid's tables is never healthy,
    /// whatever Redis says: the first Redis outage would lose everything.
    async fn ping(&self) -> Result<()> {
        let (redis, database) = tokio::join!(self.inner.redis.ping(), self.inner.db.check_schema());
        match (redis, database) {
            (_, Err(e)) if e.kind() == ErrorKind::Config => Err(e),
            (Ok(()), _) | (Err(_), Ok(())) => Ok(()),
            (Err(redis), Err(_)) => Err(redis),
        }
    }

    /// Degraded, naming the part that is down, while one side answers: with Redis
    /// down every call costs a database round trip; with the database down writes
    /// keep only their Redis copy. A Redis that fails the probe opens the breaker,
    /// so calls stop waiting for Redis timeouts until the cooldown's probe.
    async fn health(&self) -> Result<Option<String>> {
        let (redis, database) = tokio::join!(self.inner.redis.ping(), self.inner.db.check_schema());
        match (redis, database) {
            (_, Err(e)) if e.kind() == ErrorKind::Config => Err(e),
            (Ok(()), Ok(())) => {
                // Without traffic no call would close the breaker after its cooldown:
                // the probe does what the first call would.
                if self.inner.breaker.route() == Route::Probe {
                    self.inner.breaker_changed();
                    self.inner.clone().probe().await;
                }
                Ok(match self.inner.breaker.state() {
                    BreakerState::Closed => None,
                    _ => Some("Redis answers again; the circuit breaker still sends calls to the database".to_string()),
                })
            }
            (Err(e), Ok(())) => {
                if e.is_temporary() {
                    self.inner.redis_unavailable(&e, "at a health probe");
                }
                Ok(Some(format!("Redis is unavailable, every call is served by the database: {e}")))
            }
            (Ok(()), Err(e)) => {
                Ok(Some(format!("the database is unavailable, writes keep only their Redis copy: {e}")))
            }
            (Err(redis), Err(_)) => Err(redis),
        }
    }

    /// Redis's own findings, unless the breaker keeps calls off Redis: asking a
    /// Redis that does not answer would only wait out its timeouts.
    async fn check_configuration(&self) -> Result<Vec<String>> {
        match self.inner.breaker.state() {
            BreakerState::Closed => self.inner.redis.check_configuration().await,
            _ => Ok(Vec::new()),
        }
    }

    /// Half from Redis (unless the breaker keeps calls off it), half from the
    /// database's copy, which is sealed too; a key in both is taken once. A side
    /// that fails is left out, unless both do.
    async fn sample(&self, prefix: &str, limit: usize) -> Result<Option<Sampled>> {
        let inner = &self.inner;
        let from_redis = async {
            match inner.breaker.state() {
                BreakerState::Closed => inner.redis.sample(prefix, limit.div_ceil(2)).await,
                _ => Ok(None),
            }
        };
        let (redis, database) = tokio::join!(from_redis, inner.db.sample(prefix, limit / 2));
        let (redis, database) = match (redis, database) {
            (Err(e), Err(_)) => return Err(e),
            (redis, database) => {
                for e in [redis.as_ref().err(), database.as_ref().err()].into_iter().flatten() {
                    tracing::warn!(error = %e, "redis-hybrid: one part could not be sampled; the other is");
                }
                (redis.ok().flatten().unwrap_or_default(), database.unwrap_or_default())
            }
        };
        let mut sampled = redis;
        for (key, value) in database {
            if !sampled.iter().any(|(k, _)| *k == key) {
                sampled.push((key, value));
            }
        }
        Ok(Some(sampled))
    }

    async fn transport(&self) -> Result<crate::tls::Transport> {
        let (redis, database) = tokio::join!(self.inner.redis.transport(), self.inner.db.transport());
        Ok(crate::tls::Transport::Parts(vec![(self.inner.redis.provider(), redis?), ("database", database?)]))
    }
}
