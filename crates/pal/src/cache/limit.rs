//! The largest value a cache takes, refused before anything is sent. A value far
//! larger than a cache is meant for fails slowly otherwise: the client copies it,
//! sealing copies it again, and the transfer holds the one multiplexed Redis
//! connection until the command times out for every call queued behind it.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::capabilities::{Capabilities, REDIS_MAX_VALUE_BYTES};
use super::layer::CacheLayer;
use super::service::CacheService;
use super::ttl::Ttl;
use crate::env::{Env, Var};
use crate::error::{Error, ErrorKind, Result};

pub(crate) const VARS: &[Var] = &[Var::new(
    "CACHE_MAX_VALUE_BYTES",
    Some("16777216"),
    "Largest cache value in bytes, as the server stores it (sealing adds a few): a larger one fails with \
     ValueTooLarge before anything is sent. At most 536870912, Redis's own limit",
)];

/// `CACHE_MAX_VALUE_BYTES`.
pub(crate) fn read(env: &mut Env) -> usize {
    env.int("CACHE_MAX_VALUE_BYTES", 1usize, REDIS_MAX_VALUE_BYTES)
}

/// Refuses values over `limit` bytes as stored. It goes outermost, so it refuses
/// before sealing copies the value; `overhead` is what the layers beneath it add
/// to every value (sealing's header and tag), so it counts what the server sees.
pub struct ValueLimit {
    inner: Arc<dyn CacheService>,
    limit: usize,
    overhead: usize,
}

/// Wraps `inner` so a value over `limit` bytes, counting `overhead`, fails with
/// [`ErrorKind::ValueTooLarge`](crate::ErrorKind::ValueTooLarge) before anything is sent.
pub fn value_limit(inner: Arc<dyn CacheService>, limit: usize, overhead: usize) -> Arc<dyn CacheService> {
    Arc::new(ValueLimit { inner, limit, overhead })
}

impl ValueLimit {
    fn check(&self, len: usize) -> Result<()> {
        let stored = len.saturating_add(self.overhead);
        if stored <= self.limit {
            return Ok(());
        }
        let size = match self.overhead {
            0 => format!("a value of {len} bytes"),
            _ => format!("a value of {len} bytes ({stored} once sealed)"),
        };
        Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!(
                "{size} is larger than CACHE_MAX_VALUE_BYTES={}: cache a reference to large data rather than the \
                 data itself, or raise CACHE_MAX_VALUE_BYTES (at most {REDIS_MAX_VALUE_BYTES})",
                self.limit
            ),
        )
        .with_provider(self.inner.provider()))
    }
}

#[async_trait]
impl CacheLayer for ValueLimit {
    fn inner(&self) -> &dyn CacheService {
        self.inner.as_ref()
    }

    /// The lower of the two limits. Its own is counted before sealing, as callers
    /// count; a provider's is passed on as the provider states it.
    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        let mine = self.limit.saturating_sub(self.overhead);
        match inner.max_value_bytes {
            Some(theirs) if theirs <= mine => inner,
            _ => Capabilities {
                max_value_bytes: Some(mine),
                max_value_source: match self.overhead {
                    0 => "CACHE_MAX_VALUE_BYTES",
                    _ => "CACHE_MAX_VALUE_BYTES, less what sealing adds",
                },
                ..inner
            },
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.check(value.len())?;
        self.inner.set(key, value, ttl).await
    }

    /// Every value is checked before any is sent.
    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        entries.iter().try_for_each(|(_, value)| self.check(value.len()))?;
        self.inner.set_many(entries, ttl).await
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        self.check(value.len())?;
        self.inner.add(key, value, ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::memory::MemoryCache;

    fn limited(limit: usize, overhead: usize) -> Arc<dyn CacheService> {
        value_limit(Arc::new(MemoryCache::new(100)), limit, overhead)
    }

    #[tokio::test]
    async fn counts_what_sealing_adds_and_names_the_variable() {
        let ttl = Ttl::from_secs(60).unwrap();
        let cache = limited(100, 30);
        assert_eq!(cache.capabilities().max_value_bytes, Some(70));
        cache.set("at", vec![0; 70].into(), ttl).await.unwrap();
        let err = cache.set("over", vec![0; 71].into(), ttl).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
        let text = err.to_string();
        assert!(text.contains("71 bytes (101 once sealed)") && text.contains("CACHE_MAX_VALUE_BYTES=100"), "{text}");
        assert_eq!(cache.get("over").await.unwrap(), None);
    }
}
