//! The service's tables: its own `users`, through pal's runner for application
//! migrations, beside the pal tables the service uses (the audit log always; the
//! cache's database side when the cache provider keeps data there).

use pal::Result;
use pal::db::migrate::{MigrateApp, Migration, Tables};
use pal::db::{DatabaseService, Dialect};

/// The name the service's migrations are recorded under in `pal_app_migrations`.
pub const APP: &str = "pal-service";

const POSTGRES: &[Migration] = pal::migrations!("../migrations/postgres", 1 "0001_users");
const MYSQL: &[Migration] = pal::migrations!("../migrations/mysql", 1 "0001_users");
const SQLITE: &[Migration] = pal::migrations!("../migrations/sqlite", 1 "0001_users");

/// The service's own migrations for `dialect`.
pub fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
        Dialect::Sqlite => SQLITE,
    }
}

/// The parts of pal whose tables the service needs, given whether its cache keeps
/// data in the database.
pub fn pal_tables(cache_in_database: bool) -> Vec<Tables> {
    match cache_in_database {
        true => vec![Tables::Audit, Tables::Cache],
        false => vec![Tables::Audit],
    }
}

/// Applies what is pending of pal's tables and of the service's own; the names of
/// the migrations applied now.
pub async fn migrate(db: &dyn DatabaseService, cache_in_database: bool) -> Result<Vec<String>> {
    let mut applied = db.migrate(&pal_tables(cache_in_database)).await?;
    applied.extend(db.migrate_app(APP, migrations(db.dialect())).await?);
    Ok(applied)
}

/// The names of the migrations [`migrate`] would apply now.
pub async fn pending(db: &dyn DatabaseService, cache_in_database: bool) -> Result<Vec<String>> {
    let mut pending: Vec<String> =
        pal::db::migrate::pending(db, &pal_tables(cache_in_database)).await?.into_iter().map(String::from).collect();
    pending.extend(pal::db::migrate::pending_app(db, APP, migrations(db.dialect())).await?);
    Ok(pending)
}
