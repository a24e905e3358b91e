//! The database abstraction: one object-safe trait every dialect implements, with
//! `$n` placeholders everywhere, provider-neutral values, and the domain stores
//! built on top of it.

mod audit;
mod fallback;
pub mod migrate;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod placeholders;
mod pool;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod rows;
mod sealed_sessions;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server;
mod sessions;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod sqlx_error;
mod value;

use async_trait::async_trait;
use futures::future::BoxFuture;

pub use audit::{AuditEvent, AuditSink, SqlAuditSink};
pub use fallback::{CacheFallback, FallbackEntry};
pub use sealed_sessions::SealedSessionStore;
pub use sessions::{SessionRecord, SessionStore, SqlSessionStore};
pub use value::{FromValue, Row, Value};

use crate::error::{ErrorKind, Result};

/// The SQL grammar a provider speaks. CockroachDB speaks PostgreSQL's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

/// A SQL database. SQL uses `$1, $2…` placeholders on every dialect.
#[async_trait]
pub trait DatabaseService: Send + Sync + 'static {
    /// The provider's name, as `DB_PROVIDER` spells it.
    fn provider(&self) -> &'static str;

    fn dialect(&self) -> Dialect;

    /// Runs a statement and returns its rows.
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;

    /// Runs a statement and returns the number of rows it changed.
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64>;

    /// Starts a transaction. Dropping it without `commit` rolls it back.
    async fn begin(&self) -> Result<Box<dyn Transaction>>;

    async fn ping(&self) -> Result<()>;

    /// Applies pending schema migrations; returns the names of those applied now.
    async fn migrate(&self) -> Result<Vec<String>>;

    /// How often [`DatabaseServiceExt::transaction`] retries a transaction aborted by a
    /// serialization failure. Zero unless the provider is expected to abort them.
    fn transaction_retries(&self) -> u32 {
        0
    }
}

/// An open transaction. Dropped without `commit`, it rolls back.
#[async_trait]
pub trait Transaction: Send {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Closure-style transactions over any [`DatabaseService`].
#[async_trait]
pub trait DatabaseServiceExt: DatabaseService {
    /// Runs `body` in a transaction: commits when it returns `Ok`, rolls back when it
    /// returns `Err`. When the database aborts the transaction with a serialization
    /// failure the whole closure runs again, up to [`DatabaseService::transaction_retries`]
    /// times, so `body` must not have side effects outside the transaction.
    async fn transaction<T, F>(&self, mut body: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T>> + Send,
    {
        let mut attempt = 0;
        loop {
            let mut tx = self.begin().await?;
            let outcome = match body(tx.as_mut()).await {
                Ok(value) => tx.commit().await.map(|()| value),
                Err(e) => {
                    // The body's error is the one worth reporting; a failed rollback
                    // leaves nothing committed either way.
                    let _ = tx.rollback().await;
                    Err(e)
                }
            };
            match outcome {
                Err(e) if e.kind() == ErrorKind::SerializationFailure && attempt < self.transaction_retries() => {
                    attempt += 1;
                    tokio::time::sleep(retry_backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }
}

impl<D: DatabaseService + ?Sized> DatabaseServiceExt for D {}

/// Capped exponential backoff with full jitter, so conflicting transactions that
/// retry do not collide again in lockstep.
fn retry_backoff(attempt: u32) -> std::time::Duration {
    let cap_ms = (5u64 << attempt.min(7)).min(500);
    std::time::Duration::from_millis(fastrand::u64(0..=cap_ms))
}
