//! `DB_PROVIDER=sqlite`: the embedded database, on sqlx's SQLite driver; the
//! default for single-node runs.

mod grammar;

/// How SQLite is written, migrated and classified.
pub static GRAMMAR: &dyn crate::db::grammar::Grammar = &grammar::Sqlite;

#[cfg(feature = "sqlite")]
mod database;
#[cfg(feature = "sqlite")]
mod identity;

use std::sync::Arc;

use crate::db::{DatabaseService, DbCapabilities, DbProvider, DbSettings};
use crate::error::Result;

#[cfg(feature = "sqlite")]
pub use database::SqliteDatabase;

/// The `sqlite` provider's declaration.
pub static PROVIDER: DbProvider = DbProvider {
    name: "sqlite",
    summary: "SQLite, embedded (a file, or sqlite::memory:)",
    feature: "sqlite",
    url_schemes: &["sqlite"],
    example_url: "sqlite://pal.db",
    default_url: Some("sqlite://pal.db"),
    vars: &[],
    tls: None,
    capabilities: DbCapabilities { embedded: true, replicas: false },
};

/// Opens SQLite; see [`Connect`](crate::db::Connect).
pub fn connect(settings: &DbSettings) -> Result<Arc<dyn DatabaseService>> {
    #[cfg(feature = "sqlite")]
    return Ok(Arc::new(SqliteDatabase::connect(settings)?));
    #[cfg(not(feature = "sqlite"))]
    return {
        let _ = settings;
        Err(crate::Error::not_built("DB_PROVIDER", PROVIDER.name, PROVIDER.feature))
    };
}
