//! The adapter on sqlx's MySQL driver.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use futures::future::BoxFuture;
use sqlx::mysql::{MySqlArguments, MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Executor, MySql};

use sqlx::error::DatabaseError;

use super::{PROVIDER, decode, identity};
use crate::db::grammar::Grammar;
use crate::db::migrate::Ddl;
use crate::db::network::{Driver, NetworkDatabase, Reachability, Replication, pool};
use crate::db::placeholders::prepare;
use crate::db::rows::{Each, RowBuilder};
use crate::db::sqlx_error;
use crate::db::{DatabaseService, DbSettings, Dialect, DriverPool, Value};
use crate::error::{Error, ErrorKind, Result};

type Query<'q> = sqlx::query::Query<'q, MySql, MySqlArguments>;

/// Opens a lazy pool: connection errors surface at first use.
pub fn connect(db: &DbSettings) -> Result<Arc<dyn DatabaseService>> {
    let (url, settings) = (&db.url, &db.pool);
    let options = MySqlConnectOptions::from_str(url.expose())
        .map_err(|e| {
            Error::new(ErrorKind::Config, format!("DATABASE_URL {} is not a usable MySQL URL: {e}", url.redacted()))
        })?
        .timezone(Some("+00:00".to_string()));
    let options = match pool::ipv6_literal(options.get_host()) {
        Some(host) => options.host(&host),
        None => options,
    };
    let target = identity::target(PROVIDER.name, &options);
    let statement_timeout = settings.statement_timeout;
    let reach = Reachability::new(options.get_host(), options.get_port(), options.get_socket().is_some());
    let pool = pool::options::<MySql>(settings)
        .after_connect(move |conn, _| Box::pin(async move { limit_statements(conn, statement_timeout).await }))
        .connect_lazy_with(options);
    Ok(Arc::new(NetworkDatabase::new(pool, MySqlDriver, target, db, reach)))
}

/// Bounds every statement server-side: MariaDB's `max_statement_time` (seconds,
/// all statements), else MySQL's `max_execution_time` (milliseconds, SELECT only).
async fn limit_statements(conn: &mut MySqlConnection, limit: Duration) -> Result<(), sqlx::Error> {
    let mariadb = format!("SET SESSION max_statement_time = {:.3}", limit.as_secs_f64());
    match conn.execute(sqlx::raw_sql(AssertSqlSafe(mariadb))).await {
        // 1193: unknown system variable, so this is MySQL.
        Err(sqlx::Error::Database(e)) if number(e.as_ref()) == Some(1193) => {
            let mysql = format!("SET SESSION max_execution_time = {}", limit.as_millis());
            conn.execute(sqlx::raw_sql(AssertSqlSafe(mysql))).await.map(drop)
        }
        other => other.map(drop),
    }
}

/// MySQL's error number (1062, 1213…); sqlx's `code()` is the coarser SQLSTATE.
fn number(db: &(dyn DatabaseError + 'static)) -> Option<u16> {
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|e| e.number())
}

struct MySqlDriver;

fn bind<'q>(sql: &str, params: &'q [Value]) -> Result<Query<'q>> {
    let prepared = prepare(sql, super::GRAMMAR.lexis(), params)?;
    let mut query = sqlx::query(AssertSqlSafe(prepared.sql.into_owned()));
    for &i in &prepared.order {
        query = match &params[i] {
            Value::Null => query.bind(None::<String>),
            Value::Bool(b) => query.bind(*b),
            Value::Int(n) => query.bind(*n),
            Value::Float(f) => query.bind(*f),
            // The server converts decimal text exactly.
            Value::Text(s) | Value::Decimal(s) => query.bind(s.as_str()),
            Value::Bytes(b) => query.bind(b.as_slice()),
            Value::Timestamp(t) => query.bind(t.naive_utc()),
            Value::Json(j) => query.bind(j.to_string()),
        };
    }
    Ok(query)
}

impl Driver for MySqlDriver {
    type Db = MySql;

    fn driver_pool(&self, pool: &sqlx::MySqlPool) -> DriverPool {
        DriverPool::MySql(pool.clone())
    }

    fn provider(&self) -> &'static str {
        PROVIDER.name
    }

    fn map_err(&self, e: sqlx::Error) -> Error {
        sqlx_error::map_coded(PROVIDER.name, super::GRAMMAR, e, |db| number(db).map(|n| n.to_string()))
    }

    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    fn grammar(&self) -> &'static dyn Grammar {
        super::GRAMMAR
    }

    fn begin_sql(&self) -> &'static str {
        "BEGIN"
    }

    /// The session is made read-only too: DDL commits the transaction it meets and
    /// would then run in a new one, read-write unless the session says otherwise.
    fn begin_read_only_sql(&self) -> &'static str {
        "SET SESSION TRANSACTION READ ONLY; START TRANSACTION READ ONLY"
    }

    fn end_read_only_sql(&self, commit: bool) -> &'static str {
        match commit {
            true => "COMMIT; SET SESSION TRANSACTION READ WRITE",
            false => "ROLLBACK; SET SESSION TRANSACTION READ WRITE",
        }
    }

    fn ddl(&self) -> Ddl {
        Ddl::Autocommit
    }

    fn replication(&self) -> Option<&'static Replication> {
        Some(&super::replication::REPLICATION)
    }

    fn tls_version_sql(&self) -> Option<&'static str> {
        Some("SHOW SESSION STATUS LIKE 'Ssl_version'")
    }

    fn identity_sql(&self) -> &'static [&'static str] {
        identity::QUERIES
    }

    fn fetch_each<'c>(
        &'c self,
        conn: &'c mut MySqlConnection,
        sql: &'c str,
        params: &'c [Value],
        each: Each<'c>,
    ) -> BoxFuture<'c, Result<u64>> {
        Box::pin(async move {
            let (mut builder, mut count) = (RowBuilder::default(), 0);
            let mut rows = conn.fetch(bind(sql, params)?);
            while let Some(row) = rows.try_next().await.map_err(|e| self.map_err(e))? {
                count += 1;
                each(decode::row(PROVIDER.name, &mut builder, &row)?)?;
            }
            Ok(count)
        })
    }

    fn run<'c>(
        &'c self,
        conn: &'c mut MySqlConnection,
        sql: &'c str,
        params: &'c [Value],
    ) -> BoxFuture<'c, Result<u64>> {
        Box::pin(
            async move { Ok(conn.execute(bind(sql, params)?).await.map_err(|e| self.map_err(e))?.rows_affected()) },
        )
    }
}
