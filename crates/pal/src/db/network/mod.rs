//! The adapter shape every network database shares: a sqlx pool, statements
//! bounded in time, transactions on a dedicated connection, retries of
//! serialization failures. A [`Driver`] supplies what differs per dialect:
//! binding parameters, decoding rows, how a transaction begins.

pub(crate) mod pool;
mod read_only;
mod refusal;
mod replication;

pub(crate) use refusal::Reachability;
pub(crate) use replication::{Replication, not_a_replica};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use sqlx::{Database, Executor, Pool};

use crate::db::deadline::timed_out;
use crate::db::grammar::Grammar;
use crate::db::migrate::{self, Ddl};
use crate::db::position::{ConsistencyToken, ReplicaLag};
use crate::db::rows::Each;
use crate::db::sqlx_error;
use crate::db::tls::{TlsMode, UrlTlsSettings};
use crate::db::{DatabaseService, DbSettings, DbTarget, Dialect, DriverPool, PoolUsage, Row, Transaction, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::tls::Transport;

/// The dialect-specific half of a network adapter.
pub(crate) trait Driver: Send + Sync + 'static {
    type Db: Database;

    fn provider(&self) -> &'static str;
    fn dialect(&self) -> Dialect;
    fn grammar(&self) -> &'static dyn Grammar;
    /// The statement that opens a transaction (with its isolation level).
    fn begin_sql(&self) -> &'static str;
    /// The statement(s) that open the read-only transaction every read
    /// ([`DatabaseService::read`]) runs in, wherever it runs: a server is not
    /// trusted to refuse writes by itself (a replica's superuser may write).
    fn begin_read_only_sql(&self) -> &'static str;
    /// What ends that transaction, committed or rolled back, leaving the session
    /// as it was before it.
    fn end_read_only_sql(&self, commit: bool) -> &'static str {
        if commit { "COMMIT" } else { "ROLLBACK" }
    }
    /// How migrations may run their DDL.
    fn ddl(&self) -> Ddl;
    /// A query whose last column, in its first row, is the TLS protocol version of
    /// the session: no row, NULL or empty when the session is not encrypted.
    /// `None` when the server cannot tell.
    fn tls_version_sql(&self) -> Option<&'static str>;
    /// How the server reports replication positions; `None` where it keeps none.
    fn replication(&self) -> Option<&'static Replication> {
        None
    }
    /// Queries of one row and one text column that name the server and the
    /// database (see [`DatabaseService::server_identity`]), tried in order: the
    /// first the server runs answers, so a query for one flavour of a dialect may
    /// stand before another's.
    fn identity_sql(&self) -> &'static [&'static str];

    /// Runs a query and hands each row to `each` as it arrives; returns how many.
    fn fetch_each<'c>(
        &'c self,
        conn: &'c mut <Self::Db as Database>::Connection,
        sql: &'c str,
        params: &'c [Value],
        each: Each<'c>,
    ) -> BoxFuture<'c, Result<u64>>;

    fn fetch<'c>(
        &'c self,
        conn: &'c mut <Self::Db as Database>::Connection,
        sql: &'c str,
        params: &'c [Value],
    ) -> BoxFuture<'c, Result<Vec<Row>>> {
        Box::pin(async move {
            let mut rows = Vec::new();
            self.fetch_each(conn, sql, params, &mut |row| {
                rows.push(row);
                Ok(())
            })
            .await?;
            Ok(rows)
        })
    }

    fn run<'c>(
        &'c self,
        conn: &'c mut <Self::Db as Database>::Connection,
        sql: &'c str,
        params: &'c [Value],
    ) -> BoxFuture<'c, Result<u64>>;

    /// The pool, as [`DatabaseService::driver_pool`] hands it out.
    fn driver_pool(&self, pool: &Pool<Self::Db>) -> DriverPool;

    fn map_err(&self, e: sqlx::Error) -> Error {
        sqlx_error::map(self.provider(), self.grammar(), e)
    }
}

pub(crate) struct NetworkDatabase<D: Driver> {
    pool: Pool<D::Db>,
    driver: Arc<D>,
    target: DbTarget,
    statement_timeout: Duration,
    tx_retries: u32,
    /// What the URL asked of TLS.
    tls: UrlTlsSettings,
    /// Whether the last call that reached a verdict could not reach the server.
    unreachable: AtomicBool,
    /// Whether the server refuses connections, found out while the pool opens one.
    reach: Reachability,
    /// How long calls wait for a connection, when metrics are on.
    acquire_wait: Option<metrics::Histogram>,
}

impl<D: Driver> NetworkDatabase<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
{
    /// `reach` names the address the pool connects to.
    pub(crate) fn new(
        pool: Pool<D::Db>,
        driver: D,
        target: DbTarget,
        settings: &DbSettings,
        reach: Reachability,
    ) -> Self {
        let driver_provider = driver.provider();
        NetworkDatabase {
            pool,
            driver: Arc::new(driver),
            target,
            statement_timeout: settings.pool.statement_timeout,
            tx_retries: settings.tx_max_retries,
            tls: settings.tls.clone(),
            unreachable: AtomicBool::new(false),
            reach,
            acquire_wait: settings
                .metrics
                .then(|| metrics::histogram!(crate::telemetry::DB_ACQUIRE_DURATION, "provider" => driver_provider)),
        }
    }

    async fn acquire(&self) -> Result<refusal::Held<D::Db>> {
        let unreachable = self.unreachable.load(Ordering::Relaxed);
        let driver = &self.driver;
        let started = std::time::Instant::now();
        let conn = pool::acquire(&self.pool, driver.provider(), &self.reach, unreachable, |e| driver.map_err(e)).await;
        if let Some(wait) = &self.acquire_wait {
            wait.record(started.elapsed().as_secs_f64());
        }
        self.observe(conn)
    }

    fn observe<T>(&self, result: Result<T>) -> Result<T> {
        match &result {
            Ok(_) => self.unreachable.store(false, Ordering::Relaxed),
            Err(e) if e.kind() == ErrorKind::Connection => self.unreachable.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
        result
    }
}

#[async_trait]
impl<D: Driver> DatabaseService for NetworkDatabase<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
{
    fn provider(&self) -> &'static str {
        self.driver.provider()
    }

    fn dialect(&self) -> Dialect {
        self.driver.dialect()
    }

    fn grammar(&self) -> &'static dyn Grammar {
        self.driver.grammar()
    }

    fn ddl(&self) -> Ddl {
        self.driver.ddl()
    }

    fn target(&self) -> DbTarget {
        self.target.clone()
    }

    async fn server_identity(&self) -> Result<Option<String>> {
        let mut refused = None;
        for sql in self.driver.identity_sql() {
            match self.query(sql, &[]).await {
                Ok(rows) => return Ok(rows.first().and_then(|row| row.values().first()).and_then(text)),
                // Unreachable or too slow: the next query would fare no better.
                Err(e) if matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout) => return Err(e),
                Err(e) => refused = Some(e),
            }
        }
        // A server that refuses every query cannot tell who it is; that is no outage.
        let why = refused.map_or_else(|| "no query".to_string(), |e| e.to_string());
        Err(Error::unsupported(self.provider(), format!("server identity: {why}")))
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut conn = self.acquire().await?;
        let driver = &self.driver;
        let rows = pool::bounded_on(&mut conn, driver.provider(), self.statement_timeout, async |c| {
            driver.fetch(c, sql, params).await
        })
        .await;
        self.observe(rows)
    }

    async fn query_each(&self, sql: &str, params: &[Value], each: Each<'_>) -> Result<u64> {
        let mut conn = self.acquire().await?;
        let driver = &self.driver;
        let count = pool::bounded_on(&mut conn, driver.provider(), self.statement_timeout, async |c| {
            driver.fetch_each(c, sql, params, each).await
        })
        .await;
        self.observe(count)
    }

    async fn read(&self, sql: &str, params: &[Value], _after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        let driver = &self.driver;
        self.read_only(async |c| driver.fetch(c, sql, params).await).await
    }

    async fn read_each(
        &self,
        sql: &str,
        params: &[Value],
        _after: Option<&ConsistencyToken>,
        each: Each<'_>,
    ) -> Result<u64> {
        let driver = &self.driver;
        self.read_only(async |c| driver.fetch_each(c, sql, params, each).await).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut conn = self.acquire().await?;
        let driver = &self.driver;
        let affected = pool::bounded_on(&mut conn, driver.provider(), self.statement_timeout, async |c| {
            driver.run(c, sql, params).await
        })
        .await;
        self.observe(affected)
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        let mut conn = self.acquire().await?;
        let driver = &self.driver;
        pool::bounded_on(&mut conn, driver.provider(), self.statement_timeout, async |c| {
            c.execute(sqlx::raw_sql(driver.begin_sql())).await.map(drop).map_err(|e| driver.map_err(e))
        })
        .await?;
        Ok(Box::new(NetworkTransaction {
            conn,
            driver: self.driver.clone(),
            statement_timeout: self.statement_timeout,
            state: TxState::Open,
        }))
    }

    async fn ping(&self) -> Result<()> {
        self.query("SELECT 1", &[]).await.map(drop)
    }

    async fn migrate(&self, tables: &[migrate::Tables]) -> Result<Vec<String>> {
        migrate::run(self, self.driver.ddl(), tables).await
    }

    async fn transport(&self) -> Result<Transport> {
        if self.tls.mode == TlsMode::Disable {
            return Ok(Transport::Plaintext);
        }
        let Some(sql) = self.driver.tls_version_sql() else {
            // Only what was asked for is known: `prefer` may have got either.
            let encrypted = self.tls.mode != TlsMode::Prefer;
            self.ping().await?;
            return Ok(self.tls.transport(encrypted, None));
        };
        let rows = self.query(sql, &[]).await?;
        let version = rows.first().and_then(|row| row.values().last()).and_then(|v| match v {
            Value::Text(t) if !t.is_empty() => Some(t.clone()),
            _ => None,
        });
        Ok(self.tls.transport(version.is_some(), version))
    }

    async fn write_position(&self) -> Result<Option<ConsistencyToken>> {
        match self.driver.replication() {
            Some(replication) => replication.position(self).await,
            None => Ok(None),
        }
    }

    async fn replica_lag(&self) -> Result<ReplicaLag> {
        match self.driver.replication() {
            Some(replication) => replication.lag(self).await,
            None => Err(Error::unsupported(self.provider(), "this server keeps no replication positions")),
        }
    }

    async fn replayed(&self, token: &ConsistencyToken, wait: Duration) -> Result<bool> {
        match self.driver.replication() {
            Some(replication) => replication.replayed(self, token, wait).await,
            None => Err(Error::unsupported(self.provider(), "this server keeps no replication positions")),
        }
    }

    fn transaction_retries(&self) -> u32 {
        self.tx_retries
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        Some(pool::usage(&self.pool))
    }

    fn driver_pool(&self) -> Option<DriverPool> {
        Some(self.driver.driver_pool(&self.pool))
    }
}

/// A text column, which MySQL may send as bytes.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Text(t) => Some(t.clone()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

#[derive(PartialEq)]
enum TxState {
    Open,
    /// A statement was abandoned half-way: the connection's state is unknown.
    Broken,
    Finished,
}

/// A transaction on a connection of its own. It is opened and closed with plain
/// statements so that a transaction that cannot be finished cleanly (dropped, or
/// left broken by a timeout) closes its connection: the server then rolls it back,
/// and no half-finished state reaches the next user of the pool.
struct NetworkTransaction<D: Driver> {
    conn: refusal::Held<D::Db>,
    driver: Arc<D>,
    statement_timeout: Duration,
    state: TxState,
}

impl<D: Driver> NetworkTransaction<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
{
    fn check_open(&self) -> Result<()> {
        match self.state {
            TxState::Open => Ok(()),
            _ => Err(Error::new(ErrorKind::Connection, "the transaction was abandoned after a timeout")
                .with_provider(self.driver.provider())),
        }
    }

    /// Runs `work` within the statement bound; a statement abandoned half-way breaks
    /// the transaction, and dropping it then closes the connection.
    async fn guarded<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut <D::Db as Database>::Connection) -> Result<T>,
    ) -> Result<T> {
        self.check_open()?;
        match tokio::time::timeout(pool::client_limit(self.statement_timeout), work(&mut **self.conn)).await {
            Ok(result) => result,
            Err(_) => {
                self.state = TxState::Broken;
                Err(timed_out(self.driver.provider(), self.statement_timeout))
            }
        }
    }

    /// Ends the transaction. An error the server itself reported (a COMMIT aborted by
    /// a serialization failure) still ends it there, so the connection is reusable.
    async fn finish(mut self: Box<Self>, sql: &'static str) -> Result<()> {
        let driver = self.driver.clone();
        let result =
            self.guarded(async |c| c.execute(sqlx::raw_sql(sql)).await.map(drop).map_err(|e| driver.map_err(e))).await;
        match &result {
            Err(e) if matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout) => {}
            _ => self.state = TxState::Finished,
        }
        result
    }
}

#[async_trait]
impl<D: Driver> Transaction for NetworkTransaction<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
{
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let driver = self.driver.clone();
        self.guarded(async |c| driver.fetch(c, sql, params).await).await
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let driver = self.driver.clone();
        self.guarded(async |c| driver.run(c, sql, params).await).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.finish("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.finish("ROLLBACK").await
    }
}

impl<D: Driver> Drop for NetworkTransaction<D> {
    fn drop(&mut self) {
        if self.state != TxState::Finished {
            self.conn.close_on_drop();
        }
    }
}
