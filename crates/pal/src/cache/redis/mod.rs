//! `CACHE_PROVIDER=redis`: Redis standalone, through Sentinel, or as a Cluster, on
//! one adapter over redis-rs. Topology is a detail of the connection, not another
//! cache. KeyDB and the hybrid build on the same adapter.

mod address;
#[cfg(feature = "redis")]
mod backend;
pub mod config;
#[cfg(feature = "redis")]
mod connection;
#[cfg(feature = "redis")]
mod probe;
#[cfg(feature = "redis")]
mod reconnect;
#[cfg(feature = "redis")]
mod request;
#[cfg(feature = "redis")]
mod sample;
#[cfg(feature = "redis")]
pub(crate) mod tracking;

use crate::cache::{CacheProvider, Capabilities};

pub use address::{RedisServer, RedisTls, RedisTopology, Timeouts};
#[cfg(feature = "redis")]
pub use backend::RedisCache;
pub use config::configure;

/// The `redis` provider's declaration.
pub static PROVIDER: CacheProvider = CacheProvider {
    name: "redis",
    summary: "Redis standalone, Sentinel or Cluster",
    feature: Some("redis"),
    var_prefixes: &["REDIS_"],
    vars: config::VARS,
    capabilities: Capabilities::SERVER,
};
