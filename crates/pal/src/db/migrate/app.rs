//! The application's own migrations, through pal's runner: ordered, each applied
//! once across every process that runs them, recorded with a SHA-256 of its SQL
//! in `pal_app_migrations` under the application's name, so an edit to an
//! applied migration is caught instead of silently diverging.
//!
//! How a migration is made safe against a concurrent runner and an interruption:
//! - where DDL is transactional (PostgreSQL, SQLite), its ledger row and its
//!   statements commit together, the row first: a second runner waits on that
//!   row and then skips the migration;
//! - elsewhere (MySQL and MariaDB, whose DDL commits by itself; CockroachDB, whose
//!   schema changes should not share a transaction with writes), the row is
//!   written first as a claim (`success` false), the statements run, and the row
//!   is marked done. A second runner waits for the claim to be done; a claim left
//!   undone by a runner that failed or died is reported, since what ran of it is
//!   already in the schema, and must be resolved by hand (`pal_app_migrations`
//!   says which migration).

use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::super::DatabaseService;
use super::super::placeholders::split_statements;
use super::Migration;
use crate::error::{Error, ErrorKind, Result};

/// Longest an application name may be: it is part of the ledger's key.
const MAX_APP_NAME: usize = 100;
/// How long a runner waits for another to finish a migration it claimed.
const CLAIM_WAIT: Duration = Duration::from_secs(60);

/// The migrations of `dir` (relative to the file that invokes it), as a
/// `&'static [Migration]`: each `version "name"` reads `dir/name.sql` at compile
/// time.
///
/// ```ignore
/// const POSTGRES: &[pal::db::migrate::Migration] =
///     pal::migrations!("migrations/postgres", 1 "0001_notes", 2 "0002_tags");
/// ```
#[macro_export]
macro_rules! migrations {
    ($dir:literal, $($version:literal $name:literal),+ $(,)?) => {
        &[$($crate::db::migrate::Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!($dir, "/", $name, ".sql")),
        }),+]
    };
}

/// The SHA-256 of a migration's SQL, as the ledger records it.
pub fn checksum(migration: &Migration) -> String {
    crate::crypto::hex(&Sha256::digest(migration.sql.as_bytes()))
}

fn usage(message: String) -> Error {
    Error::new(ErrorKind::Usage, message)
}

fn check_list(app: &str, migrations: &[Migration]) -> Result<()> {
    if app.is_empty() || app.len() > MAX_APP_NAME {
        return Err(usage(format!("an application's name for its migrations has 1 to {MAX_APP_NAME} bytes")));
    }
    let mut last = 0;
    for migration in migrations {
        if migration.version <= last {
            return Err(usage(format!(
                "migration {} of {app} has version {}, which is not above the one before ({last}): versions are \
                 positive and increasing",
                migration.name, migration.version
            )));
        }
        last = migration.version;
    }
    Ok(())
}

/// What the ledger holds for one migration.
struct Applied {
    version: i64,
    name: String,
    checksum: String,
    success: bool,
}

async fn ledger<D: DatabaseService + ?Sized>(db: &D, app: &str) -> Result<Vec<Applied>> {
    let rows = db
        .query(
            "SELECT version, name, checksum, success FROM pal_app_migrations WHERE app = $1 ORDER BY version",
            &[app.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Applied {
                version: row.get("version")?,
                name: row.get("name")?,
                checksum: row.get("checksum")?,
                success: row.get("success")?,
            })
        })
        .collect()
}

/// Applied migrations must still be in the list, with the same SQL.
fn check_applied(app: &str, migrations: &[Migration], applied: &[Applied]) -> Result<()> {
    for done in applied.iter().filter(|a| a.success) {
        let Some(migration) = migrations.iter().find(|m| m.version == done.version) else {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "migration {} ({}) of {app} was applied to this database but is not among the migrations given: \
                     is this an older build of the application?",
                    done.version, done.name
                ),
            ));
        };
        if checksum(migration) != done.checksum {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "migration {} of {app} was changed after it was applied (its SQL no longer has the checksum \
                     recorded in pal_app_migrations): restore it and put the change in a new migration",
                    migration.name
                ),
            ));
        }
    }
    Ok(())
}

/// Applies `app`'s pending migrations in order, beside pal's own tables; returns
/// the names of those applied by this call. Safe to run from several processes
/// at once: each migration is applied once.
///
/// A list that is not in increasing version order is an
/// [`ErrorKind::Usage`] error; a migration changed or missing since it
/// was applied, or one a failed runner left half done, is an
/// [`ErrorKind::Integrity`] error naming it.
pub async fn run_app<D: DatabaseService + ?Sized>(db: &D, app: &str, migrations: &[Migration]) -> Result<Vec<String>> {
    check_list(app, migrations)?;
    create_ledger(db).await?;
    let transactional = db.ddl() == super::Ddl::Transactional;
    let mut applied_now = Vec::new();
    for migration in migrations {
        let applied = ledger(db, app).await?;
        check_applied(app, migrations, &applied)?;
        if applied.iter().any(|a| a.version == migration.version && a.success) {
            continue;
        }
        let outcome = if transactional {
            apply_in_transaction(db, app, migration).await
        } else {
            apply_claimed(db, app, migration).await
        };
        match outcome {
            Ok(true) => applied_now.push(migration.name.to_string()),
            Ok(false) => {}
            Err(e) => {
                return Err(Error::new(
                    e.kind(),
                    format!("migration {} of {app} failed: {}", migration.name, e.message()),
                )
                .with_provider(db.provider()));
            }
        }
    }
    Ok(applied_now)
}

/// The names of `app`'s migrations not applied yet, in order, without applying
/// any. Like [`run_app`], a migration changed or missing since it was applied is
/// an [`ErrorKind::Integrity`] error.
pub async fn pending_app<D: DatabaseService + ?Sized>(
    db: &D,
    app: &str,
    migrations: &[Migration],
) -> Result<Vec<String>> {
    check_list(app, migrations)?;
    let applied = super::ledger_or_empty(ledger(db, app).await)?;
    check_applied(app, migrations, &applied)?;
    Ok(migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version && a.success))
        .map(|m| m.name.to_string())
        .collect())
}

/// Creates the ledger unless it exists. Two processes creating it at once can
/// collide in the catalog (PostgreSQL) though each asks only "if not exists":
/// the loser tries again.
async fn create_ledger<D: DatabaseService + ?Sized>(db: &D) -> Result<()> {
    let mut delays = crate::retry::backoff(Duration::from_millis(20), Duration::from_millis(500), 8);
    loop {
        match db.execute(db.grammar().app_ledger_ddl(), &[]).await {
            Err(e) if matches!(e.kind(), ErrorKind::UniqueViolation | ErrorKind::SerializationFailure) => {
                match delays.next() {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(e),
                }
            }
            other => return other.map(drop),
        }
    }
}

/// `db.migrate_app(app, migrations)` on any database: [`run_app`] as a method.
#[async_trait::async_trait]
pub trait MigrateApp: DatabaseService {
    /// Applies the application `app`'s pending migrations through pal's runner
    /// ([`run_app`]); the names of those applied now. Pick the list by
    /// [`dialect`](DatabaseService::dialect) where the SQL differs.
    async fn migrate_app(&self, app: &str, migrations: &[Migration]) -> Result<Vec<String>> {
        run_app(self, app, migrations).await
    }
}

impl<D: DatabaseService + ?Sized> MigrateApp for D {}

const RECORD: &str = "INSERT INTO pal_app_migrations (app, version, name, checksum, success, applied_at) VALUES ($1, $2, $3, $4, $5, $6)";

fn record(app: &str, migration: &Migration, success: bool) -> [crate::db::Value; 6] {
    [
        app.into(),
        migration.version.into(),
        migration.name.into(),
        checksum(migration).into(),
        success.into(),
        Utc::now().into(),
    ]
}

/// Applies one migration with its ledger row in one transaction; `false` when
/// another runner applied it meanwhile.
async fn apply_in_transaction<D: DatabaseService + ?Sized>(db: &D, app: &str, migration: &Migration) -> Result<bool> {
    let statements = split_statements(migration.sql, db.grammar().lexis())?;
    let mut tx = db.begin().await?;
    match tx.execute(RECORD, &record(app, migration, true)).await {
        Ok(_) => {}
        // Another runner's row, committed while this one waited on it.
        Err(e) if e.kind() == ErrorKind::UniqueViolation => return Ok(false),
        Err(e) => return Err(e),
    }
    for statement in statements {
        tx.execute(statement, &[]).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Claims one migration, applies it statement by statement and marks it done;
/// `false` when another runner claimed it and finished it.
async fn apply_claimed<D: DatabaseService + ?Sized>(db: &D, app: &str, migration: &Migration) -> Result<bool> {
    let statements = split_statements(migration.sql, db.grammar().lexis())?;
    match db.execute(RECORD, &record(app, migration, false)).await {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::UniqueViolation => return wait_for_claim(db, app, migration).await,
        Err(e) => return Err(e),
    }
    for (done, statement) in statements.into_iter().enumerate() {
        if let Err(e) = execute_recovering(db, statement).await {
            if done == 0 {
                // Nothing of it ran: the claim goes, and a later run tries again.
                let release = "DELETE FROM pal_app_migrations WHERE app = $1 AND version = $2";
                db.execute(release, &[app.into(), migration.version.into()]).await?;
                return Err(e);
            }
            return Err(Error::new(
                e.kind(),
                format!(
                    "{}; the statements before it stay applied (this database's DDL is not transactional), and \
                     pal_app_migrations keeps the migration marked unfinished (success false): complete or undo \
                     them by hand, then delete that row",
                    e.message()
                ),
            ));
        }
    }
    db.execute(
        "UPDATE pal_app_migrations SET success = $1 WHERE app = $2 AND version = $3",
        &[true.into(), app.into(), migration.version.into()],
    )
    .await?;
    Ok(true)
}

/// Runs one statement; where it fails in a way the dialect knows how to recover
/// from (MySQL's name for MariaDB's collation), recovers.
pub(super) async fn execute_recovering<D: DatabaseService + ?Sized>(db: &D, statement: &str) -> Result<()> {
    let Err(e) = db.execute(statement, &[]).await else { return Ok(()) };
    match db.grammar().migration_failure(statement, e.message()) {
        Some(super::Recovery::AlreadyDone) => Ok(()),
        Some(super::Recovery::Instead(instead)) => db.execute(&instead, &[]).await.map(drop),
        None => Err(e),
    }
}

async fn wait_for_claim<D: DatabaseService + ?Sized>(db: &D, app: &str, migration: &Migration) -> Result<bool> {
    let started = Instant::now();
    loop {
        let done = ledger(db, app).await?.into_iter().find(|a| a.version == migration.version);
        match done {
            Some(done) if done.success => return Ok(false),
            Some(_) if started.elapsed() < CLAIM_WAIT => tokio::time::sleep(Duration::from_millis(100)).await,
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "another runner claimed it and has not finished it after {} s: if no runner is left, \
                         what it applied is in the schema; complete or undo it by hand, then delete its row in \
                         pal_app_migrations",
                        CLAIM_WAIT.as_secs()
                    ),
                ));
            }
            // The claim was withdrawn: try again.
            None => return Box::pin(apply_claimed(db, app, migration)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: [Migration; 2] = [
        Migration { version: 1, name: "0001_a", sql: "CREATE TABLE a (x INTEGER)" },
        Migration { version: 2, name: "0002_b", sql: "CREATE TABLE b (x INTEGER)" },
    ];

    #[test]
    fn lists_out_of_order_and_bad_names_are_refused() {
        assert!(check_list("notes", &M).is_ok());
        let reversed = [M[1], M[0]];
        let e = check_list("notes", &reversed).unwrap_err();
        assert!(e.message().contains("not above"), "{e}");
        assert!(check_list("", &M).is_err());
        assert!(check_list(&"x".repeat(101), &M).is_err());
    }

    #[test]
    fn an_edited_or_missing_migration_is_caught() {
        let applied = |version: i64, sql: &str| Applied {
            version,
            name: "n".into(),
            checksum: checksum(&Migration { version, name: "n", sql: leak(sql) }),
            success: true,
        };
        assert!(check_applied("notes", &M, &[applied(1, M[0].sql)]).is_ok());
        let e = check_applied("notes", &M, &[applied(1, "CREATE TABLE a (y INTEGER)")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert!(e.message().contains("changed after it was applied"), "{e}");
        let e = check_applied("notes", &M, &[applied(3, "SELECT 1")]).unwrap_err();
        assert!(e.message().contains("not among the migrations given"), "{e}");
    }

    fn leak(s: &str) -> &'static str {
        Box::leak(s.to_string().into_boxed_str())
    }
}
