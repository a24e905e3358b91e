use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::capabilities::Capabilities;
use super::service::CacheService;
use super::ttl::Ttl;
use crate::crypto::Sealer;
use crate::error::{Error, ErrorKind, Result};

/// Wraps any cache so that the server never holds a raw key or a readable value:
/// keys are keyed hashes, values AES-256-GCM sealed and bound to their key.
///
/// Counters are the exception by necessity: `incr` must stay atomic on the server,
/// so a counter's key is hashed but its value is a plain decimal integer. `get`
/// therefore returns a stored plain integer as it is; any other value that does not
/// open is an `Integrity` error.
pub struct Sealed {
    inner: Arc<dyn CacheService>,
    sealer: Arc<Sealer>,
}

impl Sealed {
    pub fn new(inner: Arc<dyn CacheService>, sealer: Arc<Sealer>) -> Self {
        Sealed { inner, sealer }
    }
}

fn is_counter(bytes: &[u8]) -> bool {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    !digits.is_empty() && digits.len() <= 20 && digits.iter().all(u8::is_ascii_digit)
}

#[async_trait]
impl CacheService for Sealed {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let storage_key = self.sealer.hash_key(key);
        let Some(stored) = self.inner.get(&storage_key).await? else { return Ok(None) };
        if Sealer::is_sealed(&stored) {
            return self.sealer.open(&storage_key, &stored).map(|v| Some(Bytes::from(v)));
        }
        if is_counter(&stored) {
            return Ok(Some(stored));
        }
        Err(Error::new(ErrorKind::Integrity, "stored value is neither sealed nor a counter")
            .with_provider(self.provider()))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let storage_key = self.sealer.hash_key(key);
        let sealed = self.sealer.seal(&storage_key, &value)?;
        self.inner.set(&storage_key, sealed.into(), ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(&self.sealer.hash_key(key)).await
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        self.inner.incr(&self.sealer.hash_key(key), by, ttl_on_create).await
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        self.inner.touch(&self.sealer.hash_key(key), ttl).await
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        self.inner.ttl(&self.sealer.hash_key(key)).await
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}
