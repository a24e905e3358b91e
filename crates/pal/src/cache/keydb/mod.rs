//! `CACHE_PROVIDER=keydb`: KeyDB speaks the Redis protocol, so it runs on the Redis
//! adapter, addressed by `KEYDB_URL` or `KEYDB_HOST` and `KEYDB_PORT`.

mod config;

use crate::cache::{CacheProvider, Capabilities, redis};

pub use config::configure;

/// The `keydb` provider's declaration.
pub static PROVIDER: CacheProvider = CacheProvider {
    name: "keydb",
    summary: "KeyDB (on the Redis adapter)",
    feature: redis::PROVIDER.feature,
    var_prefixes: &["KEYDB_"],
    vars: config::VARS,
    capabilities: Capabilities::SERVER,
};
