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

impl Sealed {
    /// A stored value, opened: sealed values are opened, counters pass as they are.
    fn open(&self, storage_key: &str, stored: Bytes) -> Result<Bytes> {
        if Sealer::is_sealed(&stored) {
            return self.sealer.open_bytes(storage_key, stored);
        }
        if is_counter(&stored) {
            return Ok(stored);
        }
        Err(Error::new(ErrorKind::Integrity, "stored value is neither sealed nor a counter")
            .with_provider(self.inner.provider()))
    }

    /// The stored bytes under `storage_key` when they open to `expected`.
    async fn stored_if(&self, storage_key: &str, expected: &[u8]) -> Result<Option<Bytes>> {
        let Some(stored) = self.inner.get(storage_key).await? else { return Ok(None) };
        let opened = self.open(storage_key, stored.clone())?;
        Ok((opened[..] == *expected).then_some(stored))
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
        self.open(&storage_key, stored).map(Some)
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

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Bytes, Duration)>> {
        let storage_key = self.sealer.hash_key(key);
        let Some((stored, left)) = self.inner.get_with_ttl(&storage_key).await? else { return Ok(None) };
        Ok(Some((self.open(&storage_key, stored)?, left)))
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let storage: Vec<String> = keys.iter().map(|k| self.sealer.hash_key(k)).collect();
        let stored = self.inner.get_many(&storage.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        storage.iter().zip(stored).map(|(key, value)| value.map(|v| self.open(key, v)).transpose()).collect()
    }

    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let storage: Vec<String> = entries.iter().map(|(k, _)| self.sealer.hash_key(k)).collect();
        let mut sealed = Vec::with_capacity(entries.len());
        for (key, (_, value)) in storage.iter().zip(entries) {
            sealed.push((key.as_str(), Bytes::from(self.sealer.seal(key, value)?)));
        }
        self.inner.set_many(&sealed, ttl).await?;
        if !entries.is_empty() {
            self.wrote().await;
        }
        Ok(())
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let storage: Vec<String> = keys.iter().map(|k| self.sealer.hash_key(k)).collect();
        self.inner.delete_many(&storage.iter().map(String::as_str).collect::<Vec<_>>()).await
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let storage_key = self.sealer.hash_key(key);
        let sealed = self.sealer.seal(&storage_key, &value)?;
        let added = self.inner.add(&storage_key, sealed.into(), ttl).await?;
        if added {
            self.wrote().await;
        }
        Ok(added)
    }

    /// Sealing never writes the same bytes twice, so the comparison is of opened
    /// values: the stored one is read and opened, and the provider removes it only
    /// if it still holds those very bytes.
    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let storage_key = self.sealer.hash_key(key);
        match self.stored_if(&storage_key, expected).await? {
            Some(stored) => self.inner.delete_if(&storage_key, &stored).await,
            None => Ok(false),
        }
    }

    /// As [`delete_if`](CacheLayer::delete_if): compared opened, applied to the
    /// stored bytes.
    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        let storage_key = self.sealer.hash_key(key);
        match self.stored_if(&storage_key, expected).await? {
            Some(stored) => self.inner.touch_if(&storage_key, &stored, ttl).await,
            None => Ok(false),
        }
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
