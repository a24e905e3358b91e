//! The escape hatch: the sqlx pool beneath a built-in adapter, for what pal's
//! API does not cover.

/// The sqlx connection pool beneath a built-in adapter, from
/// [`DatabaseService::driver_pool`](super::DatabaseService::driver_pool): for
/// what pal's API does not cover, such as PostgreSQL's `COPY` or
/// `LISTEN`/`NOTIFY`, or sqlx's own typed queries. Its sqlx is the one pal
/// re-exports as [`pal::db::sqlx`](super::sqlx): name its types from there.
///
/// Statements run on it go straight to the driver, without what pal adds: no
/// `$n` check or rewriting (MySQL and SQLite take `?`), no statement timeout
/// (`DB_STATEMENT_TIMEOUT_MS`), no metrics, no replica routing and no read-only
/// path, no retries of serialization failures, and sqlx's errors rather than
/// pal's [`ErrorKind`](crate::ErrorKind)s. It is the primary's pool, shared with
/// pal: connections taken from it count against `DB_POOL_MAX`, so hold them
/// briefly. For SQLite it is the pool that writes; reads of pal's read path
/// use another.
///
/// Non-exhaustive, and each variant exists only with its provider family's
/// Cargo feature (CockroachDB's pool is a PostgreSQL one).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DriverPool {
    /// PostgreSQL and CockroachDB.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// MySQL and MariaDB.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    /// SQLite: the pool that writes.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

impl DriverPool {
    /// The PostgreSQL (or CockroachDB) pool; `None` for another dialect.
    #[cfg(feature = "postgres")]
    pub fn postgres(&self) -> Option<&sqlx::PgPool> {
        #[allow(unreachable_patterns)]
        match self {
            DriverPool::Postgres(pool) => Some(pool),
            _ => None,
        }
    }

    /// The MySQL or MariaDB pool; `None` for another dialect.
    #[cfg(feature = "mysql")]
    pub fn mysql(&self) -> Option<&sqlx::MySqlPool> {
        #[allow(unreachable_patterns)]
        match self {
            DriverPool::MySql(pool) => Some(pool),
            _ => None,
        }
    }

    /// The SQLite pool that writes; `None` for another dialect.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(&self) -> Option<&sqlx::SqlitePool> {
        #[allow(unreachable_patterns)]
        match self {
            DriverPool::Sqlite(pool) => Some(pool),
            _ => None,
        }
    }
}
