//! `DB_PROVIDER=mysql`: MySQL and MariaDB on sqlx's MySQL driver. `$n`
//! placeholders become `?` with the parameters reordered; the session runs in UTC
//! so DATETIME columns hold UTC.

#[cfg(feature = "mysql")]
mod decode;
#[cfg(feature = "mysql")]
mod driver;

use crate::db::{DbCapabilities, DbProvider};

pub static PROVIDER: DbProvider = DbProvider {
    name: "mysql",
    summary: "MySQL or MariaDB",
    feature: "mysql",
    url_schemes: &["mysql", "mariadb"],
    example_url: "mysql://app:password@127.0.0.1:3306/app",
    default_url: None,
    vars: &[],
    capabilities: DbCapabilities { embedded: false, replicas: true },
};

#[cfg(feature = "mysql")]
pub use driver::connect;

#[cfg(not(feature = "mysql"))]
pub fn connect(_: &crate::db::DbSettings) -> crate::Result<std::sync::Arc<dyn crate::db::DatabaseService>> {
    Err(crate::Error::not_built("DB_PROVIDER", PROVIDER.name, PROVIDER.feature))
}
