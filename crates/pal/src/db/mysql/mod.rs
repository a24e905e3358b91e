//! `DB_PROVIDER=mysql`: MySQL and MariaDB on sqlx's MySQL driver. `$n`
//! placeholders become `?` with the parameters reordered; the session runs in UTC
//! so DATETIME columns hold UTC.

mod grammar;

/// How MySQL is written, migrated and classified.
pub static GRAMMAR: &dyn crate::db::grammar::Grammar = &grammar::MySql;

#[cfg(feature = "mysql")]
mod decode;
#[cfg(feature = "mysql")]
mod driver;
#[cfg(feature = "mysql")]
mod identity;
#[cfg(feature = "mysql")]
mod replication;

use crate::db::tls::{TlsMode, UrlTls};
use crate::db::{DbCapabilities, DbProvider};

/// MySQL's `--ssl-mode` values and the `ssl-*` file options, as URL parameters.
/// Unset, the mode is `PREFERRED`, as the mysql client's.
static TLS: UrlTls = UrlTls {
    mode: &["ssl-mode", "sslmode"],
    ca: &["ssl-ca", "sslca"],
    cert: &["ssl-cert", "sslcert"],
    key: &["ssl-key", "sslkey"],
    modes: &[
        ("DISABLED", TlsMode::Disable),
        ("PREFERRED", TlsMode::Prefer),
        ("REQUIRED", TlsMode::Require),
        ("VERIFY_CA", TlsMode::VerifyCa),
        ("VERIFY_IDENTITY", TlsMode::VerifyFull),
    ],
    default: TlsMode::Prefer,
    require_with_ca_verifies: false,
};

/// The `mysql` provider's declaration (MySQL and MariaDB).
pub static PROVIDER: DbProvider = DbProvider {
    name: "mysql",
    summary: "MySQL or MariaDB",
    feature: "mysql",
    url_schemes: &["mysql", "mariadb"],
    example_url: "mysql://app:password@127.0.0.1:3306/app",
    default_url: None,
    vars: &[],
    tls: Some(&TLS),
    capabilities: DbCapabilities { embedded: false, replicas: true },
};

#[cfg(feature = "mysql")]
pub use driver::connect;

/// Opens MySQL or MariaDB; in a build without the `mysql` feature, a configuration
/// error naming it.
#[cfg(not(feature = "mysql"))]
pub fn connect(_: &crate::db::DbSettings) -> crate::Result<std::sync::Arc<dyn crate::db::DatabaseService>> {
    Err(crate::Error::not_built("DB_PROVIDER", PROVIDER.name, PROVIDER.feature))
}
