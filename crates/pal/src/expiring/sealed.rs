//! Sessions whose rows hold a keyed hash of the id and a sealed payload.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{ExpiringRecord, ExpiringStore};
use crate::crypto::Sealer;
use crate::error::Result;
use crate::namespace::session_key;

/// A [`ExpiringStore`] whose rows hold a keyed hash of the session id and a sealed
/// payload: the database never sees a raw id or readable session data.
pub struct SealedExpiringStore {
    inner: Arc<dyn ExpiringStore>,
    sealer: Arc<Sealer>,
}

impl SealedExpiringStore {
    /// Hashes ids and seals data with `sealer`'s keys before they reach `inner`.
    pub fn new(inner: Arc<dyn ExpiringStore>, sealer: Arc<Sealer>) -> Self {
        SealedExpiringStore { inner, sealer }
    }

    /// The row the sealed cache writes for this session: the same keyed hash.
    fn row_id(&self, id: &str) -> Result<String> {
        Ok(self.sealer.hash_key(&session_key(id)?))
    }
}

#[async_trait]
impl ExpiringStore for SealedExpiringStore {
    async fn get(&self, id: &str) -> Result<Option<ExpiringRecord>> {
        let row_id = self.row_id(id)?;
        let Some(record) = self.inner.get(&row_id).await? else { return Ok(None) };
        let data = Bytes::from(self.sealer.open(&row_id, &record.data)?);
        Ok(Some(ExpiringRecord { data, expires_at: record.expires_at }))
    }

    async fn upsert(&self, id: &str, data: &[u8], expires_at: DateTime<Utc>) -> Result<()> {
        let row_id = self.row_id(id)?;
        let sealed = self.sealer.seal(&row_id, data)?;
        self.inner.upsert(&row_id, &sealed, expires_at).await
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        self.inner.delete(&self.row_id(id)?).await
    }

    async fn purge_expired(&self) -> Result<u64> {
        self.inner.purge_expired().await
    }
}
