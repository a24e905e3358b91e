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
            return self.sealer.open_bytes(&storage_key, stored).map(Some);
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

    async fn health(&self) -> Result<Option<String>> {
        self.inner.health().await
    }

    async fn transport(&self) -> Result<crate::tls::Transport> {
        self.inner.transport().await
    }

    /// Compares the keys with the record the last process left in the cache (a
    /// keyed hash of `CACHE_KEY_SECRET` and the key ids), then leaves its own. A
    /// different secret would make every stored key miss as if the cache were
    /// empty; a key id dropped from `CACHE_ENCRYPTION_KEYS` makes its values fail.
    async fn check_configuration(&self) -> Result<Vec<String>> {
        if !self.inner.capabilities().leaves_process {
            return Ok(Vec::new());
        }
        let mine = KeyRecord {
            secret: self.sealer.hash_key(RECORD_KEY),
            key_ids: self.sealer.key_ids().into_iter().map(str::to_string).collect(),
        };
        let found = self.inner.get(RECORD_KEY).await?.and_then(|raw| serde_json::from_slice::<KeyRecord>(&raw).ok());
        let notes = match &found {
            Some(last) if last.secret != mine.secret => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "this cache holds data written with another CACHE_KEY_SECRET: every key stored before will miss \
                     as if the cache were empty. Restore the previous secret, or clear the cache if it may start empty",
                )
                .with_provider(self.provider()));
            }
            Some(last) => last
                .key_ids
                .iter()
                .filter(|id| !mine.key_ids.contains(id))
                .map(|id| {
                    format!(
                        "key id {id:?} sealed values here but is no longer in CACHE_ENCRYPTION_KEYS: \
                         those values fail to open (Integrity) until they expire"
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        let record = serde_json::to_vec(&mine).map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
        self.inner.set(RECORD_KEY, record.into(), Ttl::from_secs(365 * 24 * 3600)?).await?;
        Ok(notes)
    }
}

/// Where the key record lives, unhashed: a sealed key is a namespace and a digest,
/// so no caller's key can take this name.
const RECORD_KEY: &str = "pal:keycheck";

#[derive(serde::Serialize, serde::Deserialize)]
struct KeyRecord {
    /// A keyed hash: it tells secrets apart without revealing them.
    secret: String,
    key_ids: Vec<String>,
}
