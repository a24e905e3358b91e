//! Every provider pal knows, in the order messages list them, each with the
//! function that reads its configuration or opens it. A new provider is one line
//! here; its name, variables and capabilities stay in its own folder.

use crate::cache::{CacheProvider, Configure, hybrid, keydb, memcached, memory, redis};
use crate::db::{Connect, DbProvider, mysql, postgres, sqlite};

pub struct CacheEntry {
    pub provider: &'static CacheProvider,
    pub configure: Configure,
}

pub struct DbEntry {
    pub provider: &'static DbProvider,
    pub connect: Connect,
}

pub static CACHES: &[CacheEntry] = &[
    CacheEntry { provider: &redis::PROVIDER, configure: redis::configure },
    CacheEntry { provider: &hybrid::PROVIDER, configure: hybrid::configure },
    CacheEntry { provider: &memory::PROVIDER, configure: memory::configure },
    CacheEntry { provider: &keydb::PROVIDER, configure: keydb::configure },
    CacheEntry { provider: &memcached::PROVIDER, configure: memcached::configure },
];

pub static DATABASES: &[DbEntry] = &[
    DbEntry { provider: &postgres::POSTGRESQL, connect: postgres::connect_postgresql },
    DbEntry { provider: &mysql::PROVIDER, connect: mysql::connect },
    DbEntry { provider: &postgres::COCKROACHDB, connect: postgres::connect_cockroachdb },
    DbEntry { provider: &sqlite::PROVIDER, connect: sqlite::connect },
];

/// The original design's defaults: Redis in front of PostgreSQL.
pub static DEFAULT_CACHE: &CacheProvider = &redis::PROVIDER;
pub static DEFAULT_DATABASE: &DbProvider = &postgres::POSTGRESQL;

pub fn cache(name: &str) -> Option<&'static CacheEntry> {
    CACHES.iter().find(|e| e.provider.name == name)
}

pub fn database(name: &str) -> Option<&'static DbEntry> {
    DATABASES.iter().find(|e| e.provider.name == name)
}

pub fn cache_names() -> Vec<&'static str> {
    CACHES.iter().map(|e| e.provider.name).collect()
}

pub fn database_names() -> Vec<&'static str> {
    DATABASES.iter().map(|e| e.provider.name).collect()
}
