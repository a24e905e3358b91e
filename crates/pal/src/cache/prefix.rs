use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::layer::CacheLayer;
use super::service::{CacheService, Sampled};
use super::ttl::Ttl;
use crate::error::Result;

/// Wraps a cache so every key gets `CACHE_KEY_PREFIX`: several applications can
/// share one server without seeing each other's keys.
pub struct Prefixed {
    inner: Arc<dyn CacheService>,
    prefix: String,
}

/// Adds the prefix layer when `prefix` is not empty.
pub fn prefixed(inner: Arc<dyn CacheService>, prefix: &str) -> Arc<dyn CacheService> {
    if prefix.is_empty() { inner } else { Arc::new(Prefixed { inner, prefix: prefix.to_string() }) }
}

impl Prefixed {
    fn key(&self, key: &str) -> String {
        let mut k = String::with_capacity(self.prefix.len() + key.len());
        k.push_str(&self.prefix);
        k.push_str(key);
        k
    }
}

// Only what names a key changes; the rest forwards.
#[async_trait]
impl CacheLayer for Prefixed {
    fn inner(&self) -> &dyn CacheService {
        self.inner.as_ref()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.inner.get(&self.key(key)).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.inner.set(&self.key(key), value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(&self.key(key)).await
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        self.inner.incr(&self.key(key), by, ttl_on_create).await
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        self.inner.touch(&self.key(key), ttl).await
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        self.inner.ttl(&self.key(key)).await
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Bytes, Duration)>> {
        self.inner.get_with_ttl(&self.key(key)).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.inner.get_many(&keys.iter().map(String::as_str).collect::<Vec<_>>()).await
    }

    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let keys: Vec<String> = entries.iter().map(|(k, _)| self.key(k)).collect();
        let entries: Vec<(&str, Bytes)> = keys.iter().zip(entries).map(|(k, (_, v))| (k.as_str(), v.clone())).collect();
        self.inner.set_many(&entries, ttl).await
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.inner.delete_many(&keys.iter().map(String::as_str).collect::<Vec<_>>()).await
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        self.inner.add(&self.key(key), value, ttl).await
    }

    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        self.inner.delete_if(&self.key(key), expected).await
    }

    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        self.inner.touch_if(&self.key(key), expected, ttl).await
    }

    /// Only this prefix's keys, named without it.
    async fn sample(&self, prefix: &str, limit: usize) -> Result<Option<Sampled>> {
        let sampled = self.inner.sample(&self.key(prefix), limit).await?;
        Ok(sampled.map(|entries| {
            entries
                .into_iter()
                .filter_map(|(key, value)| key.strip_prefix(&self.prefix).map(|k| (k.to_string(), value)))
                .collect()
        }))
    }
}
