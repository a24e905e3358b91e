//! `CACHE_PROVIDER=redis-hybrid`: Redis in front, the database behind.
//!
//! Reads try Redis and fall back to the database on a miss or a failure,
//! re-populating Redis with the remaining TTL. Writes go to Redis and (with
//! `CACHE_FALLBACK_WRITE_THROUGH`) to the database. While Redis is unreachable a
//! circuit breaker sends every call straight to the database, and every key
//! written, deleted or counted meanwhile is journaled there; before the breaker
//! closes, and periodically on every instance, journaled keys are invalidated in
//! Redis, so nothing changed during an outage is served stale from Redis after it.

mod breaker;
mod conditional;
mod config;
mod copier;
mod layer;
mod recovery;
mod state;
mod store;

use crate::cache::{CacheProvider, Capabilities, redis};

pub use breaker::State as BreakerState;
pub use config::configure;
pub use layer::HybridCache;
pub use state::{HybridConfig, HybridStats};
pub use store::purge_expired;

/// The `redis-hybrid` provider's declaration.
pub static PROVIDER: CacheProvider = CacheProvider {
    name: "redis-hybrid",
    summary: "Redis in front of the configured database, which serves while Redis is down",
    feature: redis::PROVIDER.feature,
    var_prefixes: &["CACHE_FALLBACK_", "POSTGRES_FALLBACK", "FALLBACK_", "CACHE_BREAKER_", "CACHE_JOURNAL_"],
    vars: config::VARS,
    capabilities: Capabilities::SERVER,
};
