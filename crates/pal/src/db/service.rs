//! The database trait every dialect implements, and closure-style transactions
//! over it.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

use super::grammar::{Cancel, Grammar};
use super::grammar::{Ddl, Tables};
use super::pool::DriverPool;
use super::position::{ConsistencyToken, ReplicaLag, ReplicaStatus};
use super::target::DbTarget;
use super::value::{Row, Value};
use crate::error::{ErrorKind, Result};
use crate::retry;
use crate::tls::Transport;

/// The wait before a transaction's first retry; later ones double, up to the cap.
const FIRST_RETRY: Duration = Duration::from_millis(5);
const RETRY_CAP: Duration = Duration::from_millis(250);

/// The SQL grammar a provider speaks. CockroachDB speaks PostgreSQL's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL's, which CockroachDB speaks too.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

/// A SQL database. SQL uses `$1, $2…` placeholders on every dialect.
#[async_trait]
pub trait DatabaseService: Send + Sync + 'static {
    /// The provider's name, as `DB_PROVIDER` spells it.
    fn provider(&self) -> &'static str;

    /// The SQL grammar the provider speaks.
    fn dialect(&self) -> Dialect;

    /// How this database's SQL is written, migrated and classified: what the
    /// stores over it ask instead of matching on the dialect. An adapter of a
    /// built-in dialect hands over that dialect's (`pal::db::postgres::GRAMMAR`…).
    fn grammar(&self) -> &'static dyn Grammar;

    /// The database this adapter is configured for, named without connecting and
    /// without credentials: what local state kept for it (the audit spool) is
    /// bound to.
    fn target(&self) -> DbTarget;

    /// The server's own identity, asked of it: what tells apart two servers
    /// reached at the same address (a new cluster, a restore elsewhere).
    /// PostgreSQL's system identifier, MySQL's `server_uuid`, an SQLite file's
    /// inode; with the database's name. `Ok(None)` where there is nothing to ask
    /// (an in-memory database), an `Unsupported` error where the provider cannot tell.
    async fn server_identity(&self) -> Result<Option<String>> {
        Err(crate::Error::unsupported(self.provider(), "server identity"))
    }

    /// Runs a statement and returns its rows.
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;

    /// Runs a query and hands its rows to `each` one at a time, as they arrive, so
    /// a large result is never held whole in memory; returns how many rows. An
    /// error from `each` stops the query. Adapters that cannot stream collect first.
    async fn query_each(
        &self,
        sql: &str,
        params: &[Value],
        each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        let rows = self.query(sql, params).await?;
        let count = rows.len() as u64;
        rows.into_iter().try_for_each(each)?;
        Ok(count)
    }

    /// Runs a query on the read path: a replica when `DB_REPLICA_URL` is set and
    /// one is usable, else the primary. With `after`, a replica serves it only
    /// once it has replayed that position (read-your-writes across requests);
    /// one that has not within `DB_REPLICA_WAIT_MS` leaves it to the primary.
    ///
    /// The read path never writes, wherever it runs: each read runs read-only (a
    /// read-only transaction; SQLite's `query_only`), so SQL that writes is a
    /// [`ReadOnly`](ErrorKind::ReadOnly) error and nothing is written. An adapter
    /// implements it on its own read-only path; one that has none refuses it
    /// ([`Unsupported`](ErrorKind::Unsupported)) rather than run it as a query.
    async fn read(&self, sql: &str, params: &[Value], after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        let _ = (sql, params, after);
        Err(no_read_path(self.provider()))
    }

    /// [`read`](Self::read), handing rows to `each` as they arrive.
    async fn read_each(
        &self,
        sql: &str,
        params: &[Value],
        after: Option<&ConsistencyToken>,
        each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        let _ = (sql, params, after, each);
        Err(no_read_path(self.provider()))
    }

    /// The primary's position now: every write acknowledged before this call is
    /// at or before it, so a read presenting it sees them. `None` where the
    /// provider keeps no such position (SQLite, CockroachDB, a MariaDB without
    /// binary log).
    async fn write_position(&self) -> Result<Option<ConsistencyToken>> {
        Ok(None)
    }

    /// This server as a replica: how far behind its primary it is. An error when
    /// it is not a replica or the provider cannot tell.
    async fn replica_lag(&self) -> Result<ReplicaLag> {
        Err(crate::Error::unsupported(self.provider(), "replication lag"))
    }

    /// This server as a replica: whether it has replayed `token`, waiting for it
    /// up to `wait`.
    async fn replayed(&self, token: &ConsistencyToken, wait: Duration) -> Result<bool> {
        let _ = (token, wait);
        Err(crate::Error::unsupported(self.provider(), "replication positions"))
    }

    /// The replicas [`read`](Self::read) may use, as their last check left them;
    /// empty without `DB_REPLICA_URL`.
    /// After their first check, which a new process waits for.
    async fn replicas(&self) -> Vec<ReplicaStatus> {
        Vec::new()
    }

    /// Runs a statement and returns the number of rows it changed.
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64>;

    /// Starts a transaction. Dropping it without `commit` rolls it back.
    async fn begin(&self) -> Result<Box<dyn Transaction>>;

    /// Checks that the server answers, with a round trip.
    async fn ping(&self) -> Result<()>;

    /// How the connection to the server is protected. Where the server can tell
    /// (PostgreSQL's `pg_stat_ssl`, MySQL's `Ssl_version`) it is asked, so a
    /// `prefer` mode reports what it actually got.
    async fn transport(&self) -> Result<Transport>;

    /// Applies the pending migrations of pal's own tables for the parts named
    /// (the cache's database side, the audit log; [`Tables::ALL`] for every
    /// one); returns the names of those applied now. The application's own
    /// migrations go through [`MigrateApp::migrate_app`](super::migrate::MigrateApp::migrate_app).
    async fn migrate(&self, tables: &[Tables]) -> Result<Vec<String>>;

    /// How often [`DatabaseServiceExt::transaction`] retries a transaction aborted by a
    /// serialization failure. Zero unless the provider is expected to abort them.
    fn transaction_retries(&self) -> u32 {
        0
    }

    /// The connection pool's state, for metrics: `None` where there is no pool.
    fn pool_usage(&self) -> Option<PoolUsage> {
        None
    }

    /// The primary's sqlx pool, for what pal's API does not cover (see
    /// [`DriverPool`] for what is bypassed). Every built-in adapter has one, and
    /// the layers the factory adds hand over the one beneath them; `None` for an
    /// adapter of one's own that has none.
    fn driver_pool(&self) -> Option<DriverPool> {
        None
    }

    /// How this database applies schema changes, which decides how a migration
    /// is kept from running twice. By default what its dialect does (MySQL's DDL
    /// commits by itself); an adapter whose server differs from its dialect's
    /// (CockroachDB) says so.
    fn ddl(&self) -> Ddl {
        match self.dialect() {
            Dialect::MySql => Ddl::Autocommit,
            _ => Ddl::Transactional,
        }
    }
}

fn no_read_path(provider: &'static str) -> crate::Error {
    crate::Error::unsupported(provider, "this adapter has no read-only path (DatabaseService::read)")
}

/// Connections of a pool at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections lent out.
    pub in_use: u32,
    /// Connections open and waiting in the pool.
    pub idle: u32,
}

/// An open transaction. Dropped without `commit`, it rolls back.
#[async_trait]
pub trait Transaction: Send {
    /// Runs a statement in the transaction and returns its rows.
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Runs a statement in the transaction and returns the number of rows it changed.
    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Makes the transaction's changes permanent.
    async fn commit(self: Box<Self>) -> Result<()>;
    /// Discards the transaction's changes.
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Typed queries and closure-style transactions over any [`DatabaseService`].
///
/// The typed queries decode each row with [`Row::decode`] as it arrives, so
/// a struct deriving `serde::Deserialize` reads by column name:
///
/// ```no_run
/// # async fn example(db: &dyn pal::DatabaseService) -> pal::Result<()> {
/// use pal::DatabaseServiceExt;
///
/// #[derive(serde::Deserialize)]
/// struct User {
///     id: uuid::Uuid,
///     email: String,
///     verified: bool,
///     created_at: chrono::DateTime<chrono::Utc>,
/// }
///
/// let id = uuid::Uuid::new_v4();
/// let user: Option<User> =
///     db.query_opt("SELECT id, email, verified, created_at FROM users WHERE id = $1", &[id.into()]).await?;
/// let count: i64 = db.query_one("SELECT COUNT(*) FROM users", &[]).await?;
/// # Ok(()) }
/// ```
#[async_trait]
pub trait DatabaseServiceExt: DatabaseService {
    /// Runs a query and decodes every row as `T` ([`Row::decode`]); a row that
    /// does not decode stops the query with its error.
    async fn query_as<T: DeserializeOwned + Send>(&self, sql: &str, params: &[Value]) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(sql, params, &mut |row| row.decode().map(|t| out.push(t))).await?;
        Ok(out)
    }

    /// Runs a query that must return exactly one row, decoded as `T`: none is a
    /// [`NotFound`](ErrorKind::NotFound) error, more than one a
    /// [`Usage`](ErrorKind::Usage) error (the SQL does not single out one row).
    async fn query_one<T: DeserializeOwned + Send>(&self, sql: &str, params: &[Value]) -> Result<T> {
        self.query_opt(sql, params).await?.ok_or_else(no_row)
    }

    /// Runs a query that returns at most one row, decoded as `T`: `None` when it
    /// returns none, a [`Usage`](ErrorKind::Usage) error when it returns more.
    async fn query_opt<T: DeserializeOwned + Send>(&self, sql: &str, params: &[Value]) -> Result<Option<T>> {
        let mut out = Vec::with_capacity(1);
        self.query_each(sql, params, &mut |row| at_most_one(&mut out, &row)).await?;
        Ok(out.pop())
    }

    /// [`query_as`](Self::query_as) on the read path ([`DatabaseService::read`]).
    async fn read_as<T: DeserializeOwned + Send>(
        &self,
        sql: &str,
        params: &[Value],
        after: Option<&ConsistencyToken>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.read_each(sql, params, after, &mut |row| row.decode().map(|t| out.push(t))).await?;
        Ok(out)
    }

    /// [`query_one`](Self::query_one) on the read path ([`DatabaseService::read`]).
    async fn read_one<T: DeserializeOwned + Send>(
        &self,
        sql: &str,
        params: &[Value],
        after: Option<&ConsistencyToken>,
    ) -> Result<T> {
        self.read_opt(sql, params, after).await?.ok_or_else(no_row)
    }

    /// [`query_opt`](Self::query_opt) on the read path ([`DatabaseService::read`]).
    async fn read_opt<T: DeserializeOwned + Send>(
        &self,
        sql: &str,
        params: &[Value],
        after: Option<&ConsistencyToken>,
    ) -> Result<Option<T>> {
        let mut out = Vec::with_capacity(1);
        self.read_each(sql, params, after, &mut |row| at_most_one(&mut out, &row)).await?;
        Ok(out.pop())
    }

    /// Runs `body` in a transaction: commits when it returns `Ok`, rolls back when it
    /// returns `Err`. When the database aborts the transaction with a serialization
    /// failure the whole closure runs again, up to [`DatabaseService::transaction_retries`]
    /// times, so `body` must not have side effects outside the transaction.
    async fn transaction<T, F>(&self, mut body: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T>> + Send,
    {
        // Jittered, so conflicting transactions that retry do not collide again in lockstep.
        let mut delays = retry::backoff(FIRST_RETRY, RETRY_CAP, self.transaction_retries() as usize);
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
                Err(e) if e.kind() == ErrorKind::SerializationFailure => match delays.next() {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }

    /// Runs `statements` all or none: one alone as it is, several in one
    /// transaction (run again whole after a serialization failure, as
    /// [`transaction`](Self::transaction) does).
    async fn execute_all(&self, statements: Vec<(String, Vec<Value>)>) -> Result<()> {
        if let [(sql, params)] = statements.as_slice() {
            return self.execute(sql, params).await.map(drop);
        }
        let statements: std::sync::Arc<[(String, Vec<Value>)]> = statements.into();
        self.transaction(move |tx| {
            let statements = statements.clone();
            Box::pin(async move {
                for (sql, params) in statements.iter() {
                    tx.execute(sql, params).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Stops, from another connection, every statement running on the server
    /// (the primary) whose text contains `marker`: a statement tagged with a
    /// unique comment can be interrupted this way. An `Unsupported` error where no
    /// other connection can (SQLite: the database lives in the process running the
    /// statement, and leaving it ends the statement).
    async fn cancel_marked(&self, marker: &str) -> Result<()> {
        if marker.is_empty() || marker.contains(['%', '_', '\\']) {
            return Err(crate::Error::usage("a statement marker is non-empty, without `%`, `_` or `\\`"));
        }
        let pattern = Value::Text(format!("%{marker}%"));
        match self.grammar().cancel() {
            Some(Cancel::Query(sql)) => self.query(sql, &[pattern]).await.map(drop),
            Some(Cancel::ListThenStop { list, stop }) => {
                for row in self.query(list, &[pattern]).await? {
                    self.execute(&format!("{stop} {}", row.get::<i64>("id")?), &[]).await?;
                }
                Ok(())
            }
            None => Err(crate::Error::unsupported(self.provider(), "stopping a statement from another connection")),
        }
    }
}

impl<D: DatabaseService + ?Sized> DatabaseServiceExt for D {}

fn no_row() -> crate::Error {
    crate::Error::new(ErrorKind::NotFound, "the query returned no row where one was expected")
}

/// Decodes the first row into `out`; a second stops the query.
fn at_most_one<T: DeserializeOwned>(out: &mut Vec<T>, row: &Row) -> Result<()> {
    if !out.is_empty() {
        return Err(crate::Error::usage("the query returned more than one row where at most one was expected"));
    }
    out.push(row.decode()?);
    Ok(())
}
