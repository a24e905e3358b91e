//! The sealing layer, and the key check that tells a cache written under another
//! `CACHE_KEY_SECRET` from an empty one.

mod keycheck;
mod record;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::layer::CacheLayer;
use super::service::{CacheService, Sampled};
use super::ttl::Ttl;
use crate::crypto::Sealer;
use crate::error::{Error, ErrorKind, Result};

pub use keycheck::{KeyCheck, Recorded, SAMPLE_SIZE};
pub use record::{Found, KeyRecord, RECORD_KEY};
pub use report::{KeyReport, SampleReport, TheseKeys};

/// Wraps any cache so that the server never holds a raw key or a readable value:
/// keys are keyed hashes, values AES-256-GCM-SIV sealed and bound to their key.
///
/// Counters are the exception by necessity: `incr` must stay atomic on the server,
/// so a counter's key is hashed but its value is a plain decimal integer. `get`
/// therefore returns a stored plain integer as it is; any other value that does not
/// open is an `Integrity` error.
///
/// The first value a process writes also leaves the key record (see
/// [`KeyCheck::record_after_write`]), once; reads never write it.
pub struct Sealed {
    inner: Arc<dyn CacheService>,
    sealer: Arc<Sealer>,
    /// Whether this process has had its one go at the key record (or needs none).
    recorded: AtomicBool,
}

impl Sealed {
    /// Seals what goes into `inner` with `sealer`'s keys.
    pub fn new(inner: Arc<dyn CacheService>, sealer: Arc<Sealer>) -> Self {
        let recorded = AtomicBool::new(!inner.capabilities().leaves_process);
        Sealed { inner, sealer, recorded }
    }

    /// The key check of this cache: its record and a sample of what it holds.
    pub fn key_check(&self) -> KeyCheck {
        KeyCheck::new(self.inner.clone(), self.sealer.clone())
    }

    /// After a successful write: the first one of the process records the keys.
    /// Other writers meanwhile go on without waiting; a failure is logged, not
    /// returned, since the value itself was written.
    async fn wrote(&self) {
        if self.recorded.load(Ordering::Relaxed) || self.recorded.swap(true, Ordering::AcqRel) {
            return;
        }
        // Boxed: it runs once per process, and inlined it would make every write's
        // future as large as a key check's.
        Box::pin(self.record_keys()).await
    }

    async fn record_keys(&self) {
        match self.key_check().record_after_write().await {
            Ok(Recorded::Kept) => {}
            Ok(Recorded::Written(None)) => tracing::info!(key = RECORD_KEY, "sealing key record written"),
            Ok(Recorded::Written(Some(stale))) => tracing::warn!(
                key = RECORD_KEY,
                replaced = %stale.describe(),
                "sealing key record replaced: it named another CACHE_KEY_SECRET, the sampled values name this one"
            ),
            Ok(Recorded::Refused(why)) => {
                tracing::error!(key = RECORD_KEY, "sealing key record not written: {why}")
            }
            Err(e) => tracing::warn!(key = RECORD_KEY, error = %e, "sealing key record not written"),
        }
    }
}

fn is_counter(bytes: &[u8]) -> bool {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    !digits.is_empty() && digits.len() <= 20 && digits.iter().all(u8::is_ascii_digit)
}

#[async_trait]
impl CacheLayer for Sealed {
    fn inner(&self) -> &dyn CacheService {
        self.inner.as_ref()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let storage_key = self.sealer.hash_key(key);
        let Some(stored) = self.inner.get(&storage_key).await? else { return Ok(None) };
        if Sealer::is_sealed(&stored) {
            return self.sealer.open_bytes(&storage_key, stored).map(Some);
        }
        if is_counter(&stored) {
            return Ok(Some(stored));
        }
        Err(Error::new(ErrorKind::Integrity, "stored value is neither sealed nor a counter")
            .with_provider(self.inner.provider()))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let storage_key = self.sealer.hash_key(key);
        let sealed = self.sealer.seal(&storage_key, &value)?;
        self.inner.set(&storage_key, sealed.into(), ttl).await?;
        self.wrote().await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(&self.sealer.hash_key(key)).await
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        let value = self.inner.incr(&self.sealer.hash_key(key), by, ttl_on_create).await?;
        self.wrote().await;
        Ok(value)
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        self.inner.touch(&self.sealer.hash_key(key), ttl).await
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        self.inner.ttl(&self.sealer.hash_key(key)).await
    }

    /// The key record and a sample of stored values against the configured keys
    /// (see [`KeyReport::verdict`]). Writes nothing.
    async fn check_configuration(&self) -> Result<Vec<String>> {
        let mut notes = self.inner.check_configuration().await?;
        if !self.inner.capabilities().leaves_process {
            return Ok(notes);
        }
        let verdict = self.key_check().inspect().await?.verdict();
        notes.extend(verdict.map_err(|why| Error::new(ErrorKind::Config, why).with_provider(self.inner.provider()))?);
        Ok(notes)
    }

    /// None: callers name keys that are stored only as their hashes, and no hash
    /// of a prefix is a prefix of the hashes, so there is nothing to ask the
    /// inner cache for.
    async fn sample(&self, prefix: &str, limit: usize) -> Result<Option<Sampled>> {
        let _ = (prefix, limit);
        Ok(None)
    }
}
