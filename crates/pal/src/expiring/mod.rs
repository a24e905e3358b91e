//! Durable values with an expiry, written once over any [`DatabaseService`]:
//! the database side of redis-hybrid, which keeps every value there (sessions are
//! only one kind), and a sealed variant (feature `sealing`) that reads the rows
//! the sealed cache writes. The rows live in the `pal_sessions` table
//! ([`Tables::Cache`](crate::db::migrate::Tables::Cache)).
//!
//! [`DatabaseService`]: crate::db::DatabaseService

#[cfg(feature = "sealing")]
mod sealed;
mod sql;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::error::Result;

#[cfg(feature = "sealing")]
pub use sealed::SealedExpiringStore;
pub use sql::{ExpiringRow, PURGE_BATCH, SqlExpiringStore, purge_expired_rows};

/// A stored value: opaque bytes and the moment they stop being valid.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiringRecord {
    /// The value, as stored.
    pub data: Bytes,
    /// When the value stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// Durable values with an expiry, the database side of the hybrid cache.
/// Expired rows are never returned, whether or not they were purged yet.
#[async_trait]
pub trait ExpiringStore: Send + Sync + 'static {
    /// The value, or `None` when missing or expired.
    async fn get(&self, id: &str) -> Result<Option<ExpiringRecord>>;
    /// Stores the value, replacing any row it had.
    async fn upsert(&self, id: &str, data: &[u8], expires_at: DateTime<Utc>) -> Result<()>;
    /// Returns whether a row was removed.
    async fn delete(&self, id: &str) -> Result<bool>;
    /// Deletes expired rows; returns how many.
    async fn purge_expired(&self) -> Result<u64>;
}
