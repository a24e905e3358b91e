//! The near cache: hot reads answered from process memory, kept coherent by the
//! server itself. `CACHE_NEAR_MAX_BYTES` turns it on in front of a cache whose
//! server sends invalidation messages (Redis 6+ `CLIENT TRACKING` in broadcast
//! mode, on a connection of its own per master: see `cache/redis/tracking.rs`).
//!
//! It sits outermost, above sealing: it holds **opened** values, keyed by the
//! application's key, so a hit costs one in-memory lookup and no HMAC or AEAD
//! work. The process holds the sealing keys anyway; a value in its memory is as
//! exposed as the keys that open it. What the server holds stays sealed.
//!
//! It serves only while invalidations are being received; every way they could
//! have been missed (the tracking connection lost, a heartbeat unanswered, a
//! failover, a topology change, redis-hybrid's breaker opening) drops everything.

pub(crate) mod store;

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::layer::CacheLayer;
use super::provider::CacheProvider;
use super::service::CacheService;
use super::ttl::Ttl;
#[cfg(feature = "sealing")]
use crate::crypto::Sealer;
use crate::env::{Env, Var};
use crate::error::Result;

pub use store::{Cause, NearStats, Store, Tracking};

pub(crate) const VARS: &[Var] = &[
    Var::new(
        "CACHE_NEAR_MAX_BYTES",
        Some("0"),
        "Near cache: bytes of opened values kept in process memory in front of redis, keydb or redis-hybrid, kept \
         coherent by Redis's invalidation messages (CLIENT TRACKING); 0 turns it off",
    ),
    Var::new(
        "CACHE_NEAR_TTL_MAX_MS",
        Some("60000"),
        "Near cache: the longest an entry is kept without the server being asked again, whatever its TTL",
    ),
];

/// `CACHE_NEAR_MAX_BYTES` and `CACHE_NEAR_TTL_MAX_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearSettings {
    /// The most bytes held; 0: no near cache.
    pub max_bytes: u64,
    /// The longest an entry lives.
    pub ttl_max: Duration,
}

impl NearSettings {
    /// Whether a near cache is configured.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }
}

/// Reads the near cache's variables. `provider` is the selected cache, and
/// `tracks` whether its server sends invalidations: where it does not, a near
/// cache could serve stale values without bound, so asking for one is an error.
pub(crate) fn read(env: &mut Env, provider: Option<&CacheProvider>, tracks: bool) -> NearSettings {
    let max_bytes = env.int("CACHE_NEAR_MAX_BYTES", 0u64, u64::MAX);
    let ttl_max = env.millis("CACHE_NEAR_TTL_MAX_MS");
    if ttl_max.is_zero() {
        env.invalid(
            "CACHE_NEAR_TTL_MAX_MS",
            "0",
            "an entry must live at least 1 ms; turn the near cache off with CACHE_NEAR_MAX_BYTES=0",
        );
    }
    if max_bytes > 0 && !tracks {
        let why = match provider {
            Some(p) if !p.capabilities.leaves_process => format!(
                "CACHE_PROVIDER={} keeps every value in this process already: a near cache would only copy it; unset \
                 CACHE_NEAR_MAX_BYTES",
                p.name
            ),
            Some(CacheProvider { name, .. }) => format!(
                "CACHE_PROVIDER={name} sends no invalidation messages, so a near cache could serve a value other \
                 processes have changed for as long as it holds it; use redis, keydb or redis-hybrid (Redis 6 or \
                 later), or unset CACHE_NEAR_MAX_BYTES"
            ),
            None => return NearSettings { max_bytes: 0, ttl_max },
        };
        env.invalid("CACHE_NEAR_MAX_BYTES", &max_bytes.to_string(), why);
    }
    NearSettings { max_bytes, ttl_max }
}

/// How an application key is named on the server: the prefix beneath sealing,
/// and sealing's keyed hash. Invalidations name keys that way.
#[derive(Clone)]
pub(crate) struct KeyNames {
    pub(crate) prefix: String,
    #[cfg(feature = "sealing")]
    pub(crate) sealer: Option<Arc<Sealer>>,
}

impl KeyNames {
    fn server_key(&self, key: &str) -> String {
        #[cfg(feature = "sealing")]
        if let Some(sealer) = &self.sealer {
            let hashed = sealer.hash_key(key);
            return format!("{}{hashed}", self.prefix);
        }
        let mut name = String::with_capacity(self.prefix.len() + key.len());
        name.push_str(&self.prefix);
        name.push_str(key);
        name
    }
}

/// The layer in front of a cache: see the module's documentation.
pub struct NearCache {
    inner: Arc<dyn CacheService>,
    store: Arc<Store>,
    names: KeyNames,
    /// Whether a `set` keeps the value written (see `CacheConfig::writes_reach_tracked_server`).
    keep_own_writes: bool,
    _tracking: Tracking,
}

impl NearCache {
    pub(crate) fn new(
        inner: Arc<dyn CacheService>,
        store: Arc<Store>,
        names: KeyNames,
        keep_own_writes: bool,
        tracking: Tracking,
    ) -> Self {
        NearCache { inner, store, names, keep_own_writes, _tracking: tracking }
    }

    /// Hits, misses, invalidations by cause, entries, bytes and whether it serves now.
    pub fn stats(&self) -> NearStats {
        self.store.stats()
    }

    fn forget(&self, key: &str) {
        self.store.forget(key, &self.names.server_key(key));
    }

    /// Drops the entries of written keys, whether the write succeeded or not (a
    /// timed-out write may still have been applied).
    fn forget_written<T>(&self, keys: &[&str], result: Result<T>) -> Result<T> {
        for key in keys {
            self.forget(key);
        }
        result
    }
}

/// A write of this process in flight; dropped unfinished, it counts as failed.
struct OwnWrite<'a> {
    store: &'a Store,
    key: &'a str,
    fill: Option<store::Fill>,
}

impl Drop for OwnWrite<'_> {
    fn drop(&mut self) {
        if let Some(fill) = self.fill.take() {
            self.store.write_failed(self.key, fill);
        }
    }
}

/// The memory of a near cache of `settings`, to be told by a tracker.
pub(crate) fn store(settings: NearSettings) -> Arc<Store> {
    Store::new(settings.max_bytes, settings.ttl_max)
}

/// Publishes the store's counters to the metrics registry every second while it lives.
pub(crate) fn publish_metrics(store: &Arc<Store>, provider: &'static str) {
    let weak: Weak<Store> = Arc::downgrade(store);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        use crate::telemetry::{NEAR_BYTES, NEAR_ENTRIES, NEAR_HITS, NEAR_INVALIDATIONS, NEAR_MISSES, NEAR_TRACKING};
        let hits = metrics::counter!(NEAR_HITS, "provider" => provider);
        let misses = metrics::counter!(NEAR_MISSES, "provider" => provider);
        let causes: Vec<_> = Cause::ALL
            .iter()
            .map(|c| metrics::counter!(NEAR_INVALIDATIONS, "provider" => provider, "cause" => c.label()))
            .collect();
        let entries = metrics::gauge!(NEAR_ENTRIES, "provider" => provider);
        let bytes = metrics::gauge!(NEAR_BYTES, "provider" => provider);
        let tracking = metrics::gauge!(NEAR_TRACKING, "provider" => provider);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(store) = weak.upgrade() else { return };
            let stats = store.stats();
            hits.absolute(stats.hits);
            misses.absolute(stats.misses);
            for (counter, (_, n)) in causes.iter().zip(&stats.invalidations) {
                counter.absolute(*n);
            }
            entries.set(stats.entries as f64);
            bytes.set(stats.bytes as f64);
            tracking.set(if stats.active { 1.0 } else { 0.0 });
        }
    });
}

#[async_trait]
impl CacheLayer for NearCache {
    fn inner(&self) -> &dyn CacheService {
        self.inner.as_ref()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        if let Some(value) = self.store.get(key) {
            self.store.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(Some(value));
        }
        if !self.store.miss_fills() {
            return self.inner.get(key).await;
        }
        let Some(fill) = self.store.begin(self.names.server_key(key)) else {
            return self.inner.get(key).await;
        };
        let Some((value, remaining)) = self.inner.get_with_ttl(key).await? else { return Ok(None) };
        self.store.finish(key, fill, value.clone(), remaining);
        Ok(Some(value))
    }

    /// From memory when the value is held: a TTL changed on the server
    /// (EXPIRE, a touch) invalidates it like a write.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        match self.store.ttl(key) {
            Some(Some(left)) if left.is_zero() => self.inner.ttl(key).await,
            Some(Some(left)) => Ok(Some(left)),
            Some(None) => Ok(Some(Duration::MAX)),
            None => self.inner.ttl(key).await,
        }
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let mut values: Vec<Option<Bytes>> = keys.iter().map(|k| self.store.get(k)).collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| values[i].is_none()).collect();
        let hits = (keys.len() - missing.len()) as u64;
        self.store.hits.fetch_add(hits, std::sync::atomic::Ordering::Relaxed);
        self.store.misses.fetch_add(missing.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if missing.is_empty() {
            return Ok(values);
        }
        // Misses are read through, not filled: a batch carries no TTLs.
        let asked: Vec<&str> = missing.iter().map(|&i| keys[i]).collect();
        for (i, value) in missing.into_iter().zip(self.inner.get_many(&asked).await?) {
            values[i] = value;
        }
        Ok(values)
    }

    /// Keeps the value written, where every acknowledged write reaches the
    /// tracked server: the next read is a hit, as it would be in process memory.
    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let fill = match self.keep_own_writes {
            true => self.store.begin_write(self.names.server_key(key)),
            false => None,
        };
        let Some(fill) = fill else {
            let result = self.inner.set(key, value, ttl).await;
            return self.forget_written(&[key], result);
        };
        // Cancelled or failed, the write counts as failed: its count must not outlive it.
        let mut pending = OwnWrite { store: &self.store, key, fill: Some(fill) };
        self.inner.set(key, value.clone(), ttl).await?;
        if let Some(fill) = pending.fill.take() {
            self.store.wrote(key, fill, value, ttl.as_duration());
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let result = self.inner.delete(key).await;
        self.forget_written(&[key], result)
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        let result = self.inner.incr(key, by, ttl_on_create).await;
        self.forget_written(&[key], result)
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let result = self.inner.touch(key, ttl).await;
        self.forget_written(&[key], result)
    }

    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let result = self.inner.set_many(entries, ttl).await;
        let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
        self.forget_written(&keys, result)
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let result = self.inner.delete_many(keys).await;
        self.forget_written(keys, result)
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let result = self.inner.add(key, value, ttl).await;
        self.forget_written(&[key], result)
    }

    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let result = self.inner.delete_if(key, expected).await;
        self.forget_written(&[key], result)
    }

    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        let result = self.inner.touch_if(key, expected, ttl).await;
        self.forget_written(&[key], result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::memory::MemoryCache;

    fn names() -> KeyNames {
        KeyNames {
            prefix: "p:".into(),
            #[cfg(feature = "sealing")]
            sealer: None,
        }
    }

    #[tokio::test]
    async fn own_writes_drop_the_entry_before_they_return() {
        let inner: Arc<dyn CacheService> = Arc::new(MemoryCache::new(1000));
        let store = Store::new(1 << 20, Duration::from_secs(60));
        store.tracking_started(1, Vec::new());
        let near: Arc<dyn CacheService> =
            Arc::new(NearCache::new(inner.clone(), store.clone(), names(), true, Box::new(())));
        near.set("k", Bytes::from_static(b"1"), Ttl::from_secs(60).unwrap()).await.unwrap();
        assert_eq!(near.get("k").await.unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(store.stats().hits, 1, "a value this process wrote is kept");
        near.set("k", Bytes::from_static(b"2"), Ttl::from_secs(60).unwrap()).await.unwrap();
        assert_eq!(near.get("k").await.unwrap().as_deref(), Some(&b"2"[..]));
        near.incr("n", 1, Ttl::from_secs(60).unwrap()).await.unwrap();
        assert_eq!(near.get("n").await.unwrap().as_deref(), Some(&b"1"[..]));
        near.incr("n", 1, Ttl::from_secs(60).unwrap()).await.unwrap();
        assert_eq!(near.get("n").await.unwrap().as_deref(), Some(&b"2"[..]));
        assert!(near.delete("k").await.unwrap());
        assert_eq!(near.get("k").await.unwrap(), None);
        // A change behind the near cache's back, named as the server names it.
        inner.set("n", Bytes::from_static(b"9"), Ttl::from_secs(60).unwrap()).await.unwrap();
        assert_eq!(near.get("n").await.unwrap().as_deref(), Some(&b"2"[..]));
        store.invalidate_server_keys([&b"p:n"[..]].into_iter());
        assert_eq!(near.get("n").await.unwrap().as_deref(), Some(&b"9"[..]));
    }
}
