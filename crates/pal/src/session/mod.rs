//! Durable sessions with expiry, written once over any [`DatabaseService`]: the
//! store behind the hybrid cache, and a sealed variant that reads the rows the
//! sealed cache writes.
//!
//! [`DatabaseService`]: crate::db::DatabaseService

mod sealed;
mod sql;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::error::Result;

pub use sealed::SealedSessionStore;
pub use sql::{PURGE_BATCH, SessionRow, SqlSessionStore, purge_expired_rows};

/// A stored session: opaque bytes and the moment they stop being valid.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// The session's data, as stored.
    pub data: Bytes,
    /// When the session stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// Durable sessions with expiry, the database side of the hybrid cache.
/// Expired rows are never returned, whether or not they were purged yet.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The session, or `None` when missing or expired.
    async fn get(&self, id: &str) -> Result<Option<SessionRecord>>;
    /// Stores the session, replacing any row it had.
    async fn upsert(&self, id: &str, data: &[u8], expires_at: DateTime<Utc>) -> Result<()>;
    /// Returns whether a row was removed.
    async fn delete(&self, id: &str) -> Result<bool>;
    /// Deletes expired rows; returns how many.
    async fn purge_expired(&self) -> Result<u64>;
}
