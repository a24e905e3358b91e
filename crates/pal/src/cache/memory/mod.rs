//! `CACHE_PROVIDER=memory`: an in-process cache on moka. For tests, development
//! and single-instance deployments: nothing is shared between processes.

mod cache;
mod config;

use std::time::Duration;

use crate::cache::{CacheProvider, Capabilities};

pub use cache::{ENTRY_OVERHEAD, MemoryCache};
pub use config::configure;

/// The `memory` provider's declaration.
pub static PROVIDER: CacheProvider = CacheProvider {
    name: "memory",
    summary: "in-process cache (moka); nothing is shared between processes",
    feature: None,
    var_prefixes: &[],
    vars: config::VARS,
    capabilities: Capabilities {
        leaves_process: false,
        signed_counters: true,
        max_value_bytes: None,
        max_value_source: "CACHE_MEMORY_MAX_BYTES",
        expiry_resolution: Duration::from_millis(1),
        invalidations: false,
    },
};
