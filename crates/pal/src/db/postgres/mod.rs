//! `DB_PROVIDER=postgresql` and `DB_PROVIDER=cockroachdb`: one adapter on sqlx's
//! PostgreSQL driver. CockroachDB speaks the same protocol and SQL; it differs in
//! how transactions run and how schema changes are applied (see `Flavor`).

mod grammar;

/// How PostgreSQL is written, migrated and classified.
pub static GRAMMAR: &dyn crate::db::grammar::Grammar = &grammar::Postgres;

#[cfg(feature = "postgres")]
mod decode;
#[cfg(feature = "postgres")]
mod driver;
#[cfg(feature = "postgres")]
mod identity;
#[cfg(feature = "postgres")]
mod numeric;
#[cfg(feature = "postgres")]
mod params;
#[cfg(feature = "postgres")]
mod replication;
#[cfg(feature = "postgres")]
mod types;

use crate::db::tls::{TlsMode, UrlTls};
use crate::db::{DbCapabilities, DbProvider};

const SCHEMES: &[&str] = &["postgres", "postgresql"];

/// libpq's parameters and modes, which CockroachDB documents too. Unset, the mode
/// is `prefer`, as libpq's.
pub(crate) static TLS: UrlTls = UrlTls {
    mode: &["sslmode", "ssl-mode"],
    ca: &["sslrootcert", "ssl-root-cert", "ssl-ca"],
    cert: &["sslcert", "ssl-cert"],
    key: &["sslkey", "ssl-key"],
    modes: &[
        ("disable", TlsMode::Disable),
        ("allow", TlsMode::Prefer),
        ("prefer", TlsMode::Prefer),
        ("require", TlsMode::Require),
        ("verify-ca", TlsMode::VerifyCa),
        ("verify-full", TlsMode::VerifyFull),
    ],
    default: TlsMode::Prefer,
    require_with_ca_verifies: true,
};

/// The `postgresql` provider's declaration.
pub static POSTGRESQL: DbProvider = DbProvider {
    name: "postgresql",
    summary: "PostgreSQL",
    feature: "postgres",
    url_schemes: SCHEMES,
    example_url: "postgres://app:password@127.0.0.1:5432/app",
    default_url: None,
    vars: &[],
    tls: Some(&TLS),
    capabilities: DbCapabilities { embedded: false, replicas: true },
};

/// The `cockroachdb` provider's declaration, on the PostgreSQL driver.
pub static COCKROACHDB: DbProvider = DbProvider {
    name: "cockroachdb",
    summary: "CockroachDB (on the PostgreSQL driver; transactions SERIALIZABLE, retried)",
    feature: "postgres",
    url_schemes: SCHEMES,
    example_url: "postgresql://app@127.0.0.1:26257/app?sslmode=disable",
    default_url: None,
    vars: &[],
    tls: Some(&TLS),
    capabilities: DbCapabilities { embedded: false, replicas: false },
};

#[cfg(feature = "postgres")]
pub use driver::{connect_cockroachdb, connect_postgresql};

#[cfg(not(feature = "postgres"))]
pub use absent::{connect_cockroachdb, connect_postgresql};

#[cfg(not(feature = "postgres"))]
mod absent {
    use std::sync::Arc;

    use crate::db::postgres::{COCKROACHDB, POSTGRESQL};
    use crate::db::{DatabaseService, DbSettings};
    use crate::error::{Error, Result};

    /// Opens PostgreSQL; in a build without the `postgres` feature, a configuration
    /// error naming it.
    pub fn connect_postgresql(_: &DbSettings) -> Result<Arc<dyn DatabaseService>> {
        Err(Error::not_built("DB_PROVIDER", POSTGRESQL.name, POSTGRESQL.feature))
    }

    /// Opens CockroachDB; in a build without the `postgres` feature, a configuration
    /// error naming it.
    pub fn connect_cockroachdb(_: &DbSettings) -> Result<Arc<dyn DatabaseService>> {
        Err(Error::not_built("DB_PROVIDER", COCKROACHDB.name, COCKROACHDB.feature))
    }
}
