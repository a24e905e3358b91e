//! Schema migrations, one ordered list per dialect, applied through the
//! [`DatabaseService`] itself. No advisory locks (CockroachDB has none): each
//! migration records itself in `pal_migrations`, inside its own transaction where
//! DDL is transactional, and every statement is idempotent, so concurrent or
//! repeated runs are harmless.

use std::time::Duration;

use chrono::Utc;

use super::placeholders::split_statements;
use super::{DatabaseService, Dialect, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::retry;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// How a provider can apply schema changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ddl {
    /// DDL is transactional: a migration's statements and its ledger row commit together.
    Transactional,
    /// DDL commits by itself (MySQL), or should not share a transaction with writes
    /// (CockroachDB): the statements run one by one, each idempotent, and the ledger
    /// row is written last, so an interrupted migration simply runs again.
    Autocommit,
}

const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "0001_initial", sql: include_str!("migrations/sqlite/0001_initial.sql") },
    Migration {
        version: 2,
        name: "0002_cache_fallback",
        sql: include_str!("migrations/sqlite/0002_cache_fallback.sql"),
    },
    Migration {
        version: 3,
        name: "0003_counter_expiry",
        sql: include_str!("migrations/sqlite/0003_counter_expiry.sql"),
    },
    Migration { version: 4, name: "0004_exact_keys", sql: include_str!("migrations/sqlite/0004_exact_keys.sql") },
];

/// PostgreSQL and CockroachDB: no SERIAL, no advisory locks, no LISTEN/NOTIFY.
const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "0001_initial", sql: include_str!("migrations/postgres/0001_initial.sql") },
    Migration {
        version: 2,
        name: "0002_cache_fallback",
        sql: include_str!("migrations/postgres/0002_cache_fallback.sql"),
    },
    Migration {
        version: 3,
        name: "0003_counter_expiry",
        sql: include_str!("migrations/postgres/0003_counter_expiry.sql"),
    },
    Migration { version: 4, name: "0004_exact_keys", sql: include_str!("migrations/postgres/0004_exact_keys.sql") },
];

const MYSQL: &[Migration] = &[
    Migration { version: 1, name: "0001_initial", sql: include_str!("migrations/mysql/0001_initial.sql") },
    Migration {
        version: 2,
        name: "0002_cache_fallback",
        sql: include_str!("migrations/mysql/0002_cache_fallback.sql"),
    },
    Migration {
        version: 3,
        name: "0003_counter_expiry",
        sql: include_str!("migrations/mysql/0003_counter_expiry.sql"),
    },
    Migration { version: 4, name: "0004_exact_keys", sql: include_str!("migrations/mysql/0004_exact_keys.sql") },
];

/// The migrations for a dialect, in order.
pub fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
    }
}

fn ledger_ddl(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => {
            "CREATE TABLE IF NOT EXISTS pal_migrations (version BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at DATETIME(6) NOT NULL)"
        }
        Dialect::Postgres => {
            "CREATE TABLE IF NOT EXISTS pal_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        }
        Dialect::Sqlite => {
            "CREATE TABLE IF NOT EXISTS pal_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
        }
    }
}

async fn applied_versions<D: DatabaseService + ?Sized>(db: &D) -> Result<Vec<i64>> {
    let rows = db.query("SELECT version FROM pal_migrations ORDER BY version", &[]).await?;
    rows.iter().map(|r| r.get::<i64>("version")).collect()
}

/// The migrations not applied yet, by name, in order.
pub async fn pending<D: DatabaseService + ?Sized>(db: &D) -> Result<Vec<&'static str>> {
    let applied = match applied_versions(db).await {
        Ok(applied) => applied,
        // No ledger yet: nothing was ever applied.
        Err(e) if e.kind() == ErrorKind::UndefinedObject => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(migrations(db.dialect()).iter().filter(|m| !applied.contains(&m.version)).map(|m| m.name).collect())
}

/// Applies every pending migration; returns the names of those applied by this call.
///
/// Safe to run from several processes at once. Each migration records itself in
/// its ledger row first (inside its transaction where DDL is transactional), so
/// one process applies it while the others wait on that row and then skip it.
/// What still collides (PostgreSQL creating the same catalog entry twice, SQLite
/// switching a new file to WAL) fails without effect, and the run is tried again.
pub async fn run<D: DatabaseService + ?Sized>(db: &D, ddl: Ddl) -> Result<Vec<String>> {
    if migrations(db.dialect()).is_empty() {
        return Err(Error::unsupported(db.provider(), "no migrations are defined for this dialect yet"));
    }
    let mut applied_now = Vec::new();
    let mut delays = retry::backoff(Duration::from_millis(20), Duration::from_millis(500), 8);
    loop {
        match run_once(db, ddl, &mut applied_now).await {
            Err(e) if collided(&e) => match delays.next() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(e),
            },
            other => return other.map(|()| applied_now),
        }
    }
}

/// Errors another process's concurrent migration can cause, which a new attempt
/// resolves.
fn collided(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::UniqueViolation | ErrorKind::SerializationFailure | ErrorKind::Timeout)
}

async fn run_once<D: DatabaseService + ?Sized>(db: &D, ddl: Ddl, applied_now: &mut Vec<String>) -> Result<()> {
    db.execute(ledger_ddl(db.dialect()), &[]).await?;
    for migration in migrations(db.dialect()) {
        if applied_versions(db).await?.contains(&migration.version) {
            continue;
        }
        let outcome = match ddl {
            Ddl::Transactional => apply(db, migration).await,
            Ddl::Autocommit => apply_unwrapped(db, migration).await,
        };
        match outcome {
            Ok(()) => applied_now.push(migration.name.to_string()),
            // Another process applied it between our check and our insert.
            Err(e)
                if e.kind() == ErrorKind::UniqueViolation
                    && applied_versions(db).await?.contains(&migration.version) => {}
            Err(e) => {
                return Err(Error::new(e.kind(), format!("migration {} failed: {}", migration.name, e.message()))
                    .with_provider(db.provider()));
            }
        }
    }
    Ok(())
}

const RECORD: &str = "INSERT INTO pal_migrations (version, name, applied_at) VALUES ($1, $2, $3)";

fn record_params(migration: &Migration) -> [Value; 3] {
    [migration.version.into(), migration.name.into(), Utc::now().into()]
}

async fn apply<D: DatabaseService + ?Sized>(db: &D, migration: &Migration) -> Result<()> {
    let statements = split_statements(migration.sql, db.dialect())?;
    let mut tx = db.begin().await?;
    tx.execute(RECORD, &record_params(migration)).await?;
    for statement in statements {
        tx.execute(statement, &[]).await?;
    }
    tx.commit().await
}

async fn apply_unwrapped<D: DatabaseService + ?Sized>(db: &D, migration: &Migration) -> Result<()> {
    for statement in split_statements(migration.sql, db.dialect())? {
        match db.execute(statement, &[]).await {
            // MySQL's CREATE INDEX has no IF NOT EXISTS: an index left by an
            // interrupted run of this migration is already what it asks for.
            Err(e) if db.dialect() == Dialect::MySql && e.message().contains("Duplicate key name") => {}
            // MariaDB's binary, unpadded collation is MySQL's utf8mb4_0900_bin.
            Err(e) if db.dialect() == Dialect::MySql && e.message().contains("Unknown collation") => {
                db.execute(&statement.replace("utf8mb4_nopad_bin", "utf8mb4_0900_bin"), &[]).await?;
            }
            other => drop(other?),
        }
    }
    db.execute(RECORD, &record_params(migration)).await.map(drop)
}
