//! The adapter on sqlx's SQLite driver.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Column, Executor as _, Row as _, Sqlite, TypeInfo, ValueRef};

use super::{PROVIDER, identity};
use crate::db::grammar::Grammar;
use crate::db::placeholders::prepare;
use crate::db::rows::{Each, RowBuilder};
use crate::db::value::parse_timestamp;
use crate::db::{
    ConsistencyToken, DatabaseService, DbSettings, DbTarget, Dialect, Row, Transaction, Value, deadline, migrate, rows,
    sqlx_error,
};
use crate::error::{Error, ErrorKind, Result};

type Query<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>;

/// SQLite's read-only mode for a connection: a write is then refused with
/// SQLITE_READONLY (temporary tables included), and so is any change of schema.
const QUERY_ONLY: &str = "PRAGMA query_only = ON";

/// The SQLite adapter, on a file or in memory.
pub struct SqliteDatabase {
    pool: SqlitePool,
    /// Serves [`read`](DatabaseService::read): connections of the same database in
    /// `query_only` mode, set when each opens and again each time one is lent, so a
    /// read can neither write nor leave its connection writable for the next.
    reads: SqlitePool,
    statement_timeout: Duration,
    target: DbTarget,
    /// `None` in memory.
    file: Option<PathBuf>,
}

impl SqliteDatabase {
    /// Opens a pool lazily: the file is created, and errors surface, at first use.
    pub fn connect(db: &DbSettings) -> Result<Self> {
        let (url, settings) = (&db.url, &db.pool);
        let options = SqliteConnectOptions::from_str(url.expose())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("DATABASE_URL {} is not a usable SQLite URL: {e}", url.redacted()),
                )
            })?
            .create_if_missing(true)
            // WAL lets readers run while one writer commits; with the busy timeout a
            // second writer waits instead of failing with "database is locked".
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(settings.acquire_timeout)
            .foreign_keys(true);
        let in_memory = url.expose().contains(":memory:") || url.expose().contains("mode=memory");
        let file = (!in_memory).then(|| options.get_filename().to_path_buf());
        let target = identity::target(PROVIDER.name, file.as_deref());
        let sized = || {
            SqlitePoolOptions::new()
                .max_connections(settings.max)
                .acquire_timeout(settings.acquire_timeout)
                .idle_timeout(settings.idle_timeout)
        };
        let mut pool = sized().min_connections(settings.min);
        if in_memory {
            // An in-memory database lives only while a connection to it is open.
            pool = pool.min_connections(settings.min.max(1)).idle_timeout(None).max_lifetime(None);
        }
        // sqlx names an in-memory database and shares its cache, so these open the
        // same database. Setting the mode again replaces the check a lent connection
        // gets anyway: it costs nothing more.
        let reads = sized()
            .test_before_acquire(false)
            .before_acquire(|conn, _| {
                Box::pin(async move { conn.execute(sqlx::raw_sql(QUERY_ONLY)).await.map(|_| true) })
            })
            .connect_lazy_with(options.clone().pragma("query_only", "ON"));
        Ok(SqliteDatabase {
            pool: pool.connect_lazy_with(options),
            reads,
            statement_timeout: settings.statement_timeout,
            target,
            file,
        })
    }

    /// SQLite cannot cancel a statement server-side, so the bound is applied here.
    async fn bounded<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        bounded(self.statement_timeout, fut).await
    }
}

async fn bounded<T>(limit: Duration, fut: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| Err(deadline::timed_out(PROVIDER.name, limit)))
}

fn map_err(e: sqlx::Error) -> Error {
    sqlx_error::map(PROVIDER.name, super::GRAMMAR, e)
}

/// Fixed-width UTC text, so stored timestamps compare correctly as text.
fn timestamp_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn build<'q>(sql: &'q str, params: &'q [Value]) -> Result<Query<'q>> {
    let prepared = prepare(sql, super::GRAMMAR.lexis(), params)?;
    let mut query = sqlx::query(AssertSqlSafe(prepared.sql.into_owned()));
    for value in params {
        query = match value {
            Value::Null => query.bind(None::<i64>),
            Value::Bool(b) => query.bind(*b),
            Value::Int(i) => query.bind(*i),
            Value::Float(f) => query.bind(*f),
            // No decimal type: a NUMERIC column converts the text to an integer or a
            // float (SQLite's own rounding); a TEXT column keeps the digits.
            Value::Text(s) | Value::Decimal(s) => query.bind(s.as_str()),
            Value::Bytes(b) => query.bind(b.as_slice()),
            Value::Timestamp(t) => query.bind(timestamp_text(t)),
            Value::Json(j) => query.bind(j.to_string()),
        };
    }
    Ok(query)
}

fn decode_rows(rows: Vec<SqliteRow>) -> Result<Vec<Row>> {
    let mut builder = rows::RowBuilder::default();
    rows.iter().map(|row| builder.row(row, |row, i| decode_value(row, i).map_err(map_err))).collect()
}

/// The declared column type decides booleans and timestamps (SQLite stores them as
/// integers and text); otherwise the value's own storage class decides.
fn decode_value(row: &SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let storage = raw.type_info().name().to_string();
    let declared = row.column(i).type_info().name();
    Ok(match (declared, storage.as_str()) {
        ("BOOLEAN", "INTEGER") => Value::Bool(row.try_get_unchecked::<i64, _>(i)? != 0),
        ("DATETIME", "TEXT") => {
            let text: String = row.try_get_unchecked(i)?;
            parse_timestamp(&text).map_or(Value::Text(text), Value::Timestamp)
        }
        (_, "INTEGER") => Value::Int(row.try_get_unchecked(i)?),
        (_, "REAL") => Value::Float(row.try_get_unchecked(i)?),
        (_, "BLOB") => Value::Bytes(row.try_get_unchecked(i)?),
        _ => Value::Text(row.try_get_unchecked(i)?),
    })
}

async fn fetch<'c, E>(executor: E, sql: &str, params: &[Value]) -> Result<Vec<Row>>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    let rows: Vec<SqliteRow> = executor.fetch(build(sql, params)?).try_collect().await.map_err(map_err)?;
    decode_rows(rows)
}

async fn fetch_each<'c, E>(executor: E, sql: &str, params: &[Value], each: Each<'_>) -> Result<u64>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    let (mut builder, mut count) = (RowBuilder::default(), 0);
    let mut rows = executor.fetch(build(sql, params)?);
    while let Some(row) = rows.try_next().await.map_err(map_err)? {
        count += 1;
        each(builder.row(&row, |row, i| decode_value(row, i).map_err(map_err))?)?;
    }
    Ok(count)
}

async fn run<'c, E>(executor: E, sql: &str, params: &[Value]) -> Result<u64>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    Ok(executor.execute(build(sql, params)?).await.map_err(map_err)?.rows_affected())
}

#[async_trait]
impl DatabaseService for SqliteDatabase {
    fn provider(&self) -> &'static str {
        PROVIDER.name
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn grammar(&self) -> &'static dyn Grammar {
        super::GRAMMAR
    }

    fn target(&self) -> DbTarget {
        self.target.clone()
    }

    async fn server_identity(&self) -> Result<Option<String>> {
        let Some(file) = &self.file else { return Ok(None) };
        // Opening the database creates the file when it is missing: what is asked
        // about is the file the next statement reaches.
        self.ping().await?;
        identity::of_file(file).map(Some)
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.bounded(fetch(&self.pool, sql, params)).await
    }

    async fn query_each(&self, sql: &str, params: &[Value], each: Each<'_>) -> Result<u64> {
        self.bounded(fetch_each(&self.pool, sql, params, each)).await
    }

    async fn read(&self, sql: &str, params: &[Value], _after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        self.bounded(fetch(&self.reads, sql, params)).await
    }

    async fn read_each(
        &self,
        sql: &str,
        params: &[Value],
        _after: Option<&ConsistencyToken>,
        each: Each<'_>,
    ) -> Result<u64> {
        self.bounded(fetch_each(&self.reads, sql, params, each)).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.bounded(run(&self.pool, sql, params)).await
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads
        // and then writes can fail at once with SQLITE_BUSY instead of waiting.
        let tx = self.bounded(async { self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err) }).await?;
        Ok(Box::new(SqliteTransaction { tx, statement_timeout: self.statement_timeout }))
    }

    async fn ping(&self) -> Result<()> {
        self.query("SELECT 1", &[]).await.map(drop)
    }

    async fn migrate(&self, tables: &[migrate::Tables]) -> Result<Vec<String>> {
        migrate::run(self, migrate::Ddl::Transactional, tables).await
    }

    async fn transport(&self) -> Result<crate::tls::Transport> {
        Ok(crate::tls::Transport::InProcess)
    }

    fn pool_usage(&self) -> Option<crate::db::PoolUsage> {
        let (writes, reads) = (usage(&self.pool), usage(&self.reads));
        Some(crate::db::PoolUsage {
            in_use: writes.in_use.saturating_add(reads.in_use),
            idle: writes.idle.saturating_add(reads.idle),
        })
    }

    fn driver_pool(&self) -> Option<crate::db::DriverPool> {
        Some(crate::db::DriverPool::Sqlite(self.pool.clone()))
    }
}

/// One pool's connections. sqlx's idle count can wrap below zero for an instant
/// (a connection taken before its return is counted), hence the bound by size.
fn usage(pool: &SqlitePool) -> crate::db::PoolUsage {
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
    crate::db::PoolUsage { in_use: size - idle, idle }
}

struct SqliteTransaction {
    tx: sqlx::Transaction<'static, Sqlite>,
    statement_timeout: Duration,
}

#[async_trait]
impl Transaction for SqliteTransaction {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        bounded(self.statement_timeout, fetch(&mut *self.tx, sql, params)).await
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        bounded(self.statement_timeout, run(&mut *self.tx, sql, params)).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        bounded(self.statement_timeout, async { self.tx.commit().await.map_err(map_err) }).await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        bounded(self.statement_timeout, async { self.tx.rollback().await.map_err(map_err) }).await
    }
}
