//! Schema migrations of pal's own tables, one ordered list per part and dialect,
//! applied through the [`DatabaseService`] itself. No advisory locks (CockroachDB has none): each
//! migration records itself in `pal_migrations`, inside its own transaction where
//! DDL is transactional, and every statement is idempotent, so concurrent or
//! repeated runs are harmless.

use std::time::Duration;

use chrono::Utc;

mod app;

use super::grammar::Recovery;
pub use super::grammar::{Ddl, Migration, Tables};
use super::placeholders::split_statements;
use super::{DatabaseService, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::retry;
pub use app::{MigrateApp, checksum, pending_app, run_app};

/// pal's migrations in the dialect whose folder invokes it, as a
/// [`PalMigrations`](super::grammar::PalMigrations): the SQL of each is that
/// folder's `migrations/<list>/<name>.sql`.
macro_rules! pal_migrations {
    () => {
        $crate::db::grammar::PalMigrations {
            legacy: $crate::db::migrate::pal_migrations!["legacy";
                1 "0001_initial", 2 "0002_cache_fallback", 3 "0003_counter_expiry", 4 "0004_exact_keys",
                5 "0005_pal_prefix"],
            cache: $crate::db::migrate::pal_migrations!["cache"; 101 "0101_cache"],
            audit: $crate::db::migrate::pal_migrations!["audit"; 201 "0201_audit"],
        }
    };
    ($list:literal; $($version:literal $name:literal),+ $(,)?) => {
        &[$($crate::db::migrate::Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("migrations/", $list, "/", $name, ".sql")),
        }),+]
    };
}
pub(crate) use pal_migrations;

/// The version of the legacy layout's first migration: where the ledger holds
/// it, pal created the legacy tables, and the legacy list is finished and renamed.
const LEGACY_FIRST: i64 = 1;

/// The migrations `tables` need on `db`'s dialect, in order, whether applied or not.
pub fn migrations<D: DatabaseService + ?Sized>(db: &D, tables: &[Tables]) -> Vec<&'static Migration> {
    let mut parts: Vec<Tables> = Vec::new();
    for part in tables {
        if !parts.contains(part) {
            parts.push(*part);
        }
    }
    parts.iter().flat_map(|part| db.grammar().migrations(*part)).collect()
}

async fn applied_versions<D: DatabaseService + ?Sized>(db: &D) -> Result<Vec<i64>> {
    let rows = db.query("SELECT version FROM pal_migrations ORDER BY version", &[]).await?;
    rows.iter().map(|r| r.get::<i64>("version")).collect()
}

/// The migrations `tables` need that are not applied yet, by name, in order:
/// first what finishes and renames a legacy layout, where the database has one.
pub async fn pending<D: DatabaseService + ?Sized>(db: &D, tables: &[Tables]) -> Result<Vec<&'static str>> {
    let applied = ledger_or_empty(applied_versions(db).await)?;
    Ok(in_order(db, tables, &applied).into_iter().filter(|m| !applied.contains(&m.version)).map(|m| m.name).collect())
}

/// What a ledger read found; a ledger that does not exist yet holds nothing.
fn ledger_or_empty<T>(read: Result<Vec<T>>) -> Result<Vec<T>> {
    match read {
        Err(e) if e.kind() == ErrorKind::UndefinedObject => Ok(Vec::new()),
        other => other,
    }
}

/// Every migration a run considers, given what the ledger holds.
fn in_order<D: DatabaseService + ?Sized>(db: &D, tables: &[Tables], applied: &[i64]) -> Vec<&'static Migration> {
    let legacy = match applied.contains(&LEGACY_FIRST) {
        true => db.grammar().legacy_migrations(),
        false => &[],
    };
    legacy.iter().chain(migrations(db, tables)).collect()
}

/// Applies the pending migrations of `tables`; returns the names of those applied
/// by this call. A database holding pal's legacy layout (unprefixed tables) is
/// brought to its last version and renamed first, whatever `tables` asks for.
///
/// Safe to run from several processes at once. Each migration records itself in
/// its ledger row first (inside its transaction where DDL is transactional), so
/// one process applies it while the others wait on that row and then skip it.
/// What still collides (PostgreSQL creating the same catalog entry twice, SQLite
/// switching a new file to WAL) fails without effect, and the run is tried again.
pub async fn run<D: DatabaseService + ?Sized>(db: &D, ddl: Ddl, tables: &[Tables]) -> Result<Vec<String>> {
    let mut applied_now = Vec::new();
    let mut delays = retry::backoff(Duration::from_millis(20), Duration::from_millis(500), 8);
    loop {
        match run_once(db, ddl, tables, &mut applied_now).await {
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

async fn run_once<D: DatabaseService + ?Sized>(
    db: &D,
    ddl: Ddl,
    tables: &[Tables],
    applied_now: &mut Vec<String>,
) -> Result<()> {
    db.execute(db.grammar().ledger_ddl(), &[]).await?;
    for migration in in_order(db, tables, &applied_versions(db).await?) {
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
        app::execute_recovering(db, statement).await?;
    }
    db.execute(RECORD, &record_params(migration)).await.map(drop)
}
