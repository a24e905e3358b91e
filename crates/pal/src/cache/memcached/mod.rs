//! `CACHE_PROVIDER=memcached`: the meta protocol through the `memcache` crate's
//! async client (per-server pools, one deadline per exchange), with keys sharded
//! across `MEMCACHED_SERVERS` by stable rendezvous hashing.
//!
//! Memcached's own rules are hidden: keys it would reject are mapped, TTLs over 30
//! days are sent as absolute times, oversized values fail with `ValueTooLarge`.
//! Counters are unsigned on the server, so `incr` with a negative amount is
//! `Unsupported`. A key on a server that is down is an error, not a miss.

#[cfg(feature = "memcached")]
mod backend;
mod config;
#[cfg(feature = "memcached")]
mod keys;
#[cfg(feature = "memcached")]
mod sample;

use std::time::Duration;

use crate::cache::{CacheProvider, Capabilities};

#[cfg(feature = "memcached")]
pub use backend::MemcachedCache;
pub use config::configure;

/// The `memcached` provider's declaration.
pub static PROVIDER: CacheProvider = CacheProvider {
    name: "memcached",
    summary: "memcached, keys sharded across servers",
    feature: Some("memcached"),
    var_prefixes: &["MEMCACHED_"],
    vars: config::VARS,
    capabilities: Capabilities {
        leaves_process: true,
        // The server's counters are unsigned.
        signed_counters: false,
        // The servers' default item size limit; the adapter reports MEMCACHED_MAX_ITEM_BYTES.
        max_value_bytes: Some(1024 * 1024),
        max_value_source: "MEMCACHED_MAX_ITEM_BYTES",
        // Expiry times are whole seconds.
        expiry_resolution: Duration::from_secs(1),
        // No tracking: a near cache could not learn of other processes' writes.
        invalidations: false,
    },
};
