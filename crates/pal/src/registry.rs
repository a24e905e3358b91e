//! Every provider pal knows, in the order messages list them, each with the
//! function that reads its configuration or opens it. A new provider is one line
//! here; its name, variables and capabilities stay in its own folder.

use crate::cache::{CacheProvider, Configure, hybrid, keydb, memcached, memory, redis};
use crate::db::{Connect, DbProvider, mysql, postgres, sqlite};

/// A cache provider and the function that reads its configuration.
pub struct CacheEntry {
    /// The provider's name, variables and capabilities.
    pub provider: &'static CacheProvider,
    /// Reads the provider's variables into its configuration.
    pub configure: Configure,
}

/// A database provider and the function that opens it.
pub struct DbEntry {
    /// The provider's name, variables and capabilities.
    pub provider: &'static DbProvider,
    /// Opens the provider from its settings.
    pub connect: Connect,
}

/// Every cache provider, in the order messages list them.
pub static CACHES: &[CacheEntry] = &[
    CacheEntry { provider: &redis::PROVIDER, configure: redis::configure },
    CacheEntry { provider: &hybrid::PROVIDER, configure: hybrid::configure },
    CacheEntry { provider: &memory::PROVIDER, configure: memory::configure },
    CacheEntry { provider: &keydb::PROVIDER, configure: keydb::configure },
    CacheEntry { provider: &memcached::PROVIDER, configure: memcached::configure },
];

/// Every database provider, in the order messages list them.
pub static DATABASES: &[DbEntry] = &[
    DbEntry { provider: &postgres::POSTGRESQL, connect: postgres::connect_postgresql },
    DbEntry { provider: &mysql::PROVIDER, connect: mysql::connect },
    DbEntry { provider: &postgres::COCKROACHDB, connect: postgres::connect_cockroachdb },
    DbEntry { provider: &sqlite::PROVIDER, connect: sqlite::connect },
];

/// The cache used when `CACHE_PROVIDER` is unset. The defaults are the original
/// design's: Redis in front of PostgreSQL.
pub static DEFAULT_CACHE: &CacheProvider = &redis::PROVIDER;
/// The database used when `DB_PROVIDER` is unset.
pub static DEFAULT_DATABASE: &DbProvider = &postgres::POSTGRESQL;

/// The cache provider called `name`, or `None` when there is none.
pub fn cache(name: &str) -> Option<&'static CacheEntry> {
    CACHES.iter().find(|e| e.provider.name == name)
}

/// The database provider called `name`, or `None` when there is none.
pub fn database(name: &str) -> Option<&'static DbEntry> {
    DATABASES.iter().find(|e| e.provider.name == name)
}

/// The names of every cache provider, as `CACHE_PROVIDER` accepts them.
pub fn cache_names() -> Vec<&'static str> {
    CACHES.iter().map(|e| e.provider.name).collect()
}

/// The names of every database provider, as `DB_PROVIDER` accepts them.
pub fn database_names() -> Vec<&'static str> {
    DATABASES.iter().map(|e| e.provider.name).collect()
}
