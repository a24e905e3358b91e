//! `DB_PROVIDER=postgresql` and `DB_PROVIDER=cockroachdb`: one adapter on sqlx's
//! PostgreSQL driver. CockroachDB speaks the same protocol and SQL; it differs in
//! how transactions run and how schema changes are applied (see [`Flavor`]).

mod decode;
mod numeric;
mod params;

use std::str::FromStr;
use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgTypeInfo, PgTypeKind};
use sqlx::{Arguments, AssertSqlSafe, Either, Executor, Postgres, SqlSafeStr, Statement, TypeInfo};

use super::migrate::Ddl;
use super::placeholders::prepare;
use super::server::{Driver, ServerDatabase};
use super::{DatabaseService, Dialect, Row, Value, pool};
use crate::error::{Error, ErrorKind, Result};
use crate::settings::{ConnUrl, PoolSettings};
use params::PgParam;

/// Which server speaks the PostgreSQL protocol at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Postgres,
    /// Transactions run SERIALIZABLE (CockroachDB's only real isolation level) and
    /// are expected to abort with SQLSTATE 40001 under contention; migrations keep
    /// DDL out of transactions that also write.
    Cockroach,
}

impl Flavor {
    fn provider(self) -> &'static str {
        match self {
            Flavor::Postgres => "postgresql",
            Flavor::Cockroach => "cockroachdb",
        }
    }
}

/// Opens a lazy pool: connection errors surface at first use.
pub fn connect(
    url: &ConnUrl,
    settings: &PoolSettings,
    tx_max_retries: u32,
    flavor: Flavor,
) -> Result<Arc<dyn DatabaseService>> {
    let options = PgConnectOptions::from_str(url.expose())
        .map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("DATABASE_URL {} is not a usable PostgreSQL URL: {e}", url.redacted()),
            )
        })?
        // Server-side, so a runaway statement stops using the server too.
        .options([("statement_timeout", settings.statement_timeout.as_millis())]);
    let pool = pool::options::<Postgres>(settings).connect_lazy_with(options);
    Ok(Arc::new(ServerDatabase::new(pool, PgDriver { flavor }, settings.statement_timeout, tx_max_retries)))
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
        prepare(sql, Dialect::Postgres, params.len())?;
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
            let ty = types.get(i).ok_or_else(|| {
                Error::invalid_input(format!("the server reports {} parameter(s) for this SQL", types.len()))
            })?;
            let param =
                PgParam::new(value, ty).map_err(|why| Error::invalid_input(format!("parameter ${}: {why}", i + 1)))?;
            arguments.add(param).map_err(|e| Error::invalid_input(format!("parameter ${}: {e}", i + 1)))?;
        }
        Ok(Either::Right((statement, arguments)))
    }
}

impl Driver for PgDriver {
    type Db = Postgres;

    fn provider(&self) -> &'static str {
        self.flavor.provider()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn begin_sql(&self) -> &'static str {
        match self.flavor {
            Flavor::Postgres => "BEGIN",
            Flavor::Cockroach => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }

    fn ddl(&self) -> Ddl {
        match self.flavor {
            Flavor::Postgres => Ddl::Transactional,
            Flavor::Cockroach => Ddl::Autocommit,
        }
    }

    fn fetch<'c>(
        &'c self,
        conn: &'c mut PgConnection,
        sql: &'c str,
        params: &'c [Value],
    ) -> BoxFuture<'c, Result<Vec<Row>>> {
        Box::pin(async move {
            let rows = match self.bind(conn, sql, params).await? {
                Either::Left(query) => conn.fetch_all(query).await,
                Either::Right((statement, arguments)) => conn.fetch_all(statement.query_with(arguments)).await,
            };
            decode::rows(self.provider(), rows.map_err(|e| self.map_err(e))?)
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

/// The kind of a type the server described. sqlx panics when asked the kind of a
/// type it never resolved (shown as "?"), so those have none.
fn kind(ty: &PgTypeInfo) -> Option<&PgTypeKind> {
    (ty.name() != "?").then(|| ty.kind())
}

/// Type OIDs of the built-in types pal binds and reads. They are fixed in the
/// catalog, and CockroachDB uses the same ones.
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const VOID: u32 = 2278;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}
