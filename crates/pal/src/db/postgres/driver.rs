//! The adapter on sqlx's PostgreSQL driver, for PostgreSQL and CockroachDB.

use std::str::FromStr;
use std::sync::Arc;

use futures::TryStreamExt;
use futures::future::BoxFuture;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow, PgSslMode};
use sqlx::{Arguments, AssertSqlSafe, Either, Executor, Postgres, SqlSafeStr, Statement};

use super::params::PgParam;
use super::{COCKROACHDB, POSTGRESQL, decode, identity};
use crate::db::grammar::Grammar;
use crate::db::migrate::Ddl;
use crate::db::network::{Driver, NetworkDatabase, Reachability, Replication, pool};
use crate::db::placeholders::prepare;
use crate::db::rows::{Each, RowBuilder};
use crate::db::tls::TlsMode;
use crate::db::{DatabaseService, DbProvider, DbSettings, Dialect, DriverPool, Value};
use crate::error::{Error, ErrorKind, Result};

/// Which server speaks the PostgreSQL protocol at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Postgres,
    /// Transactions run SERIALIZABLE (CockroachDB's only real isolation level) and
    /// are expected to abort with SQLSTATE 40001 under contention; migrations keep
    /// DDL out of transactions that also write.
    Cockroach,
}

impl Flavor {
    fn provider(self) -> &'static DbProvider {
        match self {
            Flavor::Postgres => &POSTGRESQL,
            Flavor::Cockroach => &COCKROACHDB,
        }
    }
}

/// Opens PostgreSQL on a lazy pool; see [`Connect`](crate::db::Connect).
pub fn connect_postgresql(settings: &DbSettings) -> Result<Arc<dyn DatabaseService>> {
    connect(settings, Flavor::Postgres)
}

/// Opens CockroachDB on a lazy pool; see [`Connect`](crate::db::Connect).
pub fn connect_cockroachdb(settings: &DbSettings) -> Result<Arc<dyn DatabaseService>> {
    connect(settings, Flavor::Cockroach)
}

/// Opens a lazy pool: connection errors surface at first use.
fn connect(db: &DbSettings, flavor: Flavor) -> Result<Arc<dyn DatabaseService>> {
    let (url, settings) = (&db.url, &db.pool);
    let options = connect_options(url.expose(), db.tls.mode)
        .map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("DATABASE_URL {} is not a usable PostgreSQL URL: {e}", url.redacted()),
            )
        })?
        // Server-side, so a runaway statement stops using the server too.
        .options([("statement_timeout", settings.statement_timeout.as_millis())]);
    let target = identity::target(flavor.provider().name, &options);
    let reach = Reachability::new(options.get_host(), options.get_port(), options.get_socket().is_some());
    let pool = pool::options::<Postgres>(settings).connect_lazy_with(options);
    Ok(Arc::new(NetworkDatabase::new(pool, PgDriver { flavor }, target, db, reach)))
}

/// The URL's options, with the TLS mode as pal read it: libpq's `require` with a
/// root certificate verifies the chain, and `PGSSLMODE` cannot contradict the URL.
fn connect_options(url: &str, mode: TlsMode) -> std::result::Result<PgConnectOptions, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.ssl_mode(match mode {
        TlsMode::Disable => PgSslMode::Disable,
        TlsMode::Prefer => PgSslMode::Prefer,
        TlsMode::Require => PgSslMode::Require,
        TlsMode::VerifyCa => PgSslMode::VerifyCa,
        TlsMode::VerifyFull => PgSslMode::VerifyFull,
    });
    Ok(match pool::ipv6_literal(options.get_host()) {
        Some(host) => options.host(&host),
        None => options,
    })
}

struct PgDriver {
    flavor: Flavor,
}

impl PgDriver {
    /// The statement to run: placeholders checked and, when there are parameters,
    /// each converted to the type the server inferred for it.
    async fn bind<'q>(
        &self,
        conn: &mut PgConnection,
        sql: &'q str,
        params: &[Value],
    ) -> Result<Either<sqlx::query::Query<'q, Postgres, PgArguments>, (sqlx::postgres::PgStatement, PgArguments)>> {
        prepare(sql, super::GRAMMAR.lexis(), params)?;
        if params.is_empty() {
            return Ok(Either::Left(sqlx::query(AssertSqlSafe(sql))));
        }
        // Served from the connection's statement cache after the first time.
        let statement = conn.prepare(AssertSqlSafe(sql).into_sql_str()).await.map_err(|e| self.map_err(e))?;
        let types = match statement.parameters() {
            Some(Either::Left(types)) => types,
            _ => &[],
        };
        let mut arguments = PgArguments::default();
        for (i, value) in params.iter().enumerate() {
            let ty = types
                .get(i)
                .ok_or_else(|| Error::usage(format!("the server reports {} parameter(s) for this SQL", types.len())))?;
            let param =
                PgParam::new(value, ty).map_err(|why| Error::invalid_input(format!("parameter ${}: {why}", i + 1)))?;
            arguments.add(param).map_err(|e| Error::invalid_input(format!("parameter ${}: {e}", i + 1)))?;
        }
        Ok(Either::Right((statement, arguments)))
    }
}

impl Driver for PgDriver {
    type Db = Postgres;

    fn driver_pool(&self, pool: &sqlx::PgPool) -> DriverPool {
        DriverPool::Postgres(pool.clone())
    }

    fn provider(&self) -> &'static str {
        self.flavor.provider().name
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn grammar(&self) -> &'static dyn Grammar {
        super::GRAMMAR
    }

    fn begin_sql(&self) -> &'static str {
        match self.flavor {
            Flavor::Postgres => "BEGIN",
            Flavor::Cockroach => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }

    /// CockroachDB takes the same words. Inside it, a statement cannot make the
    /// transaction writable again, and a function cannot commit it.
    fn begin_read_only_sql(&self) -> &'static str {
        "BEGIN TRANSACTION READ ONLY"
    }

    fn tls_version_sql(&self) -> Option<&'static str> {
        match self.flavor {
            Flavor::Postgres => Some("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl"),
            // CockroachDB has no pg_stat_ssl.
            Flavor::Cockroach => None,
        }
    }

    fn replication(&self) -> Option<&'static Replication> {
        match self.flavor {
            Flavor::Postgres => Some(&super::replication::REPLICATION),
            // CockroachDB replicates inside the cluster: every node reads consistently.
            Flavor::Cockroach => None,
        }
    }

    fn identity_sql(&self) -> &'static [&'static str] {
        match self.flavor {
            Flavor::Postgres => identity::POSTGRES,
            Flavor::Cockroach => identity::COCKROACH,
        }
    }

    fn ddl(&self) -> Ddl {
        match self.flavor {
            Flavor::Postgres => Ddl::Transactional,
            Flavor::Cockroach => Ddl::Autocommit,
        }
    }

    fn fetch_each<'c>(
        &'c self,
        conn: &'c mut PgConnection,
        sql: &'c str,
        params: &'c [Value],
        each: Each<'c>,
    ) -> BoxFuture<'c, Result<u64>> {
        Box::pin(async move {
            let mut builder = RowBuilder::default();
            let mut count = 0;
            let mut take = |row: PgRow| -> Result<()> {
                count += 1;
                each(decode::row(self.provider(), &mut builder, &row)?)
            };
            match self.bind(conn, sql, params).await? {
                Either::Left(query) => {
                    let mut rows = conn.fetch(query);
                    while let Some(row) = rows.try_next().await.map_err(|e| self.map_err(e))? {
                        take(row)?;
                    }
                }
                Either::Right((statement, arguments)) => {
                    let mut rows = conn.fetch(statement.query_with(arguments));
                    while let Some(row) = rows.try_next().await.map_err(|e| self.map_err(e))? {
                        take(row)?;
                    }
                }
            }
            Ok(count)
        })
    }

    fn run<'c>(&'c self, conn: &'c mut PgConnection, sql: &'c str, params: &'c [Value]) -> BoxFuture<'c, Result<u64>> {
        Box::pin(async move {
            let done = match self.bind(conn, sql, params).await? {
                Either::Left(query) => conn.execute(query).await,
                Either::Right((statement, arguments)) => conn.execute(statement.query_with(arguments)).await,
            };
            Ok(done.map_err(|e| self.map_err(e))?.rows_affected())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TlsMode;

    #[test]
    fn ipv6_literals_lose_their_brackets() {
        let options = super::connect_options("postgres://u@[::1]:5433/db", TlsMode::Prefer).unwrap();
        assert_eq!((options.get_host(), options.get_port()), ("::1", 5433));
        assert_eq!(
            super::connect_options("postgres://u@db.example:5432/db", TlsMode::Prefer).unwrap().get_host(),
            "db.example"
        );
    }
}
