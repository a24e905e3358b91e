//! Schema migrations, one ordered list per dialect, applied through the
//! [`DatabaseService`] itself. No advisory locks (CockroachDB has none): each
//! migration records itself in `pal_migrations`, inside its own transaction where
//! DDL is transactional, and every statement is idempotent, so concurrent or
//! repeated runs are harmless.

use std::time::Duration;

use chrono::Utc;

mod app;

use super::grammar::Recovery;
pub use super::grammar::{Ddl, Migration};
use super::placeholders::split_statements;
use super::{DatabaseService, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::retry;
pub use app::{MigrateApp, checksum, run_app};

/// pal's migrations, the same versions and names on every dialect, as the list
/// of the dialect whose folder it is invoked in: each one's SQL is that folder's
/// `migrations/<name>.sql`.
macro_rules! every_migration {
    () => {
        $crate::db::migrate::every_migration![
            1 "0001_initial",
            2 "0002_cache_fallback",
            3 "0003_counter_expiry",
            4 "0004_exact_keys",
        ]
    };
    ($($version:literal $name:literal),+ $(,)?) => {
        &[$($crate::db::migrate::Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("migrations/", $name, ".sql")),
        }),+]
    };
}
pub(crate) use every_migration;

/// The migrations of `db`'s dialect, in order.
pub fn migrations<D: DatabaseService + ?Sized>(db: &D) -> &'static [Migration] {
    db.grammar().migrations()
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
    Ok(migrations(db).iter().filter(|m| !applied.contains(&m.version)).map(|m| m.name).collect())
}

/// Applies every pending migration; returns the names of those applied by this call.
///
/// Safe to run from several processes at once. Each migration records itself in
/// its ledger row first (inside its transaction where DDL is transactional), so
/// one process applies it while the others wait on that row and then skip it.
/// What still collides (PostgreSQL creating the same catalog entry twice, SQLite
/// switching a new file to WAL) fails without effect, and the run is tried again.
pub async fn run<D: DatabaseService + ?Sized>(db: &D, ddl: Ddl) -> Result<Vec<String>> {
    if migrations(db).is_empty() {
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
    db.execute(db.grammar().ledger_ddl(), &[]).await?;
    for migration in migrations(db) {
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
    let statements = split_statements(migration.sql, db.grammar().lexis())?;
    let mut tx = db.begin().await?;
    tx.execute(RECORD, &record_params(migration)).await?;
    for statement in statements {
        tx.execute(statement, &[]).await?;
    }
    tx.commit().await
}

async fn apply_unwrapped<D: DatabaseService + ?Sized>(db: &D, migration: &Migration) -> Result<()> {
    for statement in split_statements(migration.sql, db.grammar().lexis())? {
        if let Err(e) = db.execute(statement, &[]).await {
            match db.grammar().migration_failure(statement, e.message()) {
                Some(Recovery::AlreadyDone) => {}
                Some(Recovery::Instead(instead)) => drop(db.execute(&instead, &[]).await?),
                None => return Err(e),
            }
        }
    }
    db.execute(RECORD, &record_params(migration)).await.map(drop)
}
