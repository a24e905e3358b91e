//! The `REDIS_*` variables, read once whichever provider uses them (`redis`, and
//! `redis-hybrid` in front of its database).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::PROVIDER;
use super::address::{RedisServer, RedisTopology, Timeouts};
use crate::cache::{CacheConfig, CacheProvider, CacheService};
use crate::env::{Env, Var};
use crate::error::{Error, ErrorKind, Result};

/// The schemes of a Redis URL, plain and TLS.
pub const SCHEMES: &[&str] = &["redis", "rediss"];

pub const VARS: &[Var] = &[
    Var::secret(
        "REDIS_URL",
        "redis: redis://[user:password@]host[:port][/db] or rediss://… (standalone; required unless cluster or sentinel)",
    ),
    Var::new("REDIS_CLUSTER_ENABLED", Some("false"), "redis: use Redis Cluster, seeded from REDIS_CLUSTER_NODES"),
    Var::new("REDIS_CLUSTER_NODES", None, "redis: comma-separated cluster seed nodes, host:port"),
    Var::new("REDIS_SENTINEL_ENABLED", Some("false"), "redis: find the master through Sentinel"),
    Var::new("REDIS_SENTINEL_MASTER", Some("mymaster"), "redis: name of the master the sentinels monitor"),
    Var::new("REDIS_SENTINEL_NODES", None, "redis: comma-separated sentinels, host:port"),
    Var::secret("REDIS_SENTINEL_PASSWORD", "redis: password of the sentinels themselves, when they require one"),
    Var::new("REDIS_CONNECT_TIMEOUT_MS", Some("2000"), "redis, keydb: connection timeout"),
    Var::new("REDIS_COMMAND_TIMEOUT_MS", Some("1000"), "redis, keydb: timeout of every command"),
];

/// `REDIS_CONNECT_TIMEOUT_MS` and `REDIS_COMMAND_TIMEOUT_MS`, which every
/// Redis-protocol provider honours.
pub fn timeouts(env: &mut Env) -> Timeouts {
    Timeouts { connect: env.millis("REDIS_CONNECT_TIMEOUT_MS"), command: env.millis("REDIS_COMMAND_TIMEOUT_MS") }
}

/// Reads the `REDIS_*` variables. With `required_by`, a provider that cannot run
/// without Redis is selected, and a missing address names it.
pub fn read(env: &mut Env, required_by: Option<&str>) -> RedisServer {
    let cluster = env.bool("REDIS_CLUSTER_ENABLED");
    let sentinel = env.bool("REDIS_SENTINEL_ENABLED");
    let url = env.url("REDIS_URL", SCHEMES);
    let topology = match (cluster, sentinel) {
        (true, true) => {
            env.contradiction(
                "REDIS_CLUSTER_ENABLED=true and REDIS_SENTINEL_ENABLED=true contradict each other: \
                 Redis Cluster fails over by itself; set one of them to false",
            );
            None
        }
        (true, false) => {
            let nodes = env.hosts("REDIS_CLUSTER_NODES", 6379);
            if nodes.is_empty() && !env.is_set("REDIS_CLUSTER_NODES") {
                env.missing("REDIS_CLUSTER_NODES", "when REDIS_CLUSTER_ENABLED=true", "10.0.0.1:7000,10.0.0.2:7000");
            }
            Some(RedisTopology::Cluster { nodes, url })
        }
        (false, true) => {
            let nodes = env.hosts("REDIS_SENTINEL_NODES", 26379);
            if nodes.is_empty() && !env.is_set("REDIS_SENTINEL_NODES") {
                env.missing(
                    "REDIS_SENTINEL_NODES",
                    "when REDIS_SENTINEL_ENABLED=true",
                    "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379",
                );
            }
            let master = env.string("REDIS_SENTINEL_MASTER");
            let password = env.secret("REDIS_SENTINEL_PASSWORD");
            Some(RedisTopology::Sentinel { master, nodes, password, url })
        }
        (false, false) => match (url, required_by) {
            (Some(url), _) => Some(RedisTopology::Standalone(url)),
            (None, Some(provider)) if !env.is_set("REDIS_URL") => {
                env.missing(
                    "REDIS_URL",
                    &format!("for CACHE_PROVIDER={provider} (or enable cluster or sentinel)"),
                    "redis://127.0.0.1:6379",
                );
                None
            }
            (None, _) => None,
        },
    };
    RedisServer { topology, timeouts: timeouts(env) }
}

/// The Redis adapter for `server`, reporting itself as `provider`.
pub fn connect(provider: &'static CacheProvider, server: &RedisServer) -> Result<Arc<dyn CacheService>> {
    // Settings guarantee a topology for a selected provider; this guards direct callers.
    let topology = server.topology.as_ref().ok_or_else(|| {
        Error::new(ErrorKind::Config, format!("CACHE_PROVIDER={} has no Redis server configured", provider.name))
    })?;
    adapter(provider, topology, server.timeouts)
}

#[cfg(feature = "redis")]
fn adapter(
    provider: &'static CacheProvider,
    topology: &RedisTopology,
    timeouts: Timeouts,
) -> Result<Arc<dyn CacheService>> {
    Ok(Arc::new(super::backend::RedisCache::new(provider, topology, timeouts)?))
}

#[cfg(not(feature = "redis"))]
fn adapter(provider: &'static CacheProvider, _: &RedisTopology, _: Timeouts) -> Result<Arc<dyn CacheService>> {
    Err(Error::not_built("CACHE_PROVIDER", provider.name, PROVIDER.feature.unwrap_or_default()))
}

#[derive(Debug)]
struct RedisConfig(RedisServer);

pub fn configure(env: &mut Env, selected: bool) -> Option<Arc<dyn CacheConfig>> {
    Some(Arc::new(RedisConfig(read(env, selected.then_some(PROVIDER.name)))))
}

impl CacheConfig for RedisConfig {
    fn target(&self) -> String {
        self.0.topology.as_ref().map_or_else(|| "-".to_string(), RedisTopology::target)
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>> {
        Box::pin(async move { connect(&PROVIDER, &self.0) })
    }
}
