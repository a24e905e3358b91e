//! The `REDIS_*` variables, read once whichever provider uses them (`redis`, and
//! `redis-hybrid` in front of its database).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::PROVIDER;
use super::address::{RedisServer, RedisTopology, Timeouts};
use crate::cache::{CacheConfig, CacheProvider, CacheService};
use crate::env::{ConnUrl, Env, Var};
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
    let url = env.url("REDIS_URL", SCHEMES).and_then(|url| match database_in_path(&url) {
        Ok(url) => Some(url),
        Err(why) => {
            env.invalid("REDIS_URL", url.redacted(), why);
            None
        }
    });
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

/// The URL with a `?db=N` moved to the path (`redis://host:6379/N`), where the
/// driver reads the database number: other clients accept either form.
fn database_in_path(url: &ConnUrl) -> std::result::Result<ConnUrl, String> {
    let mut parsed = url::Url::parse(url.expose()).map_err(|e| e.to_string())?;
    let Some(db) = parsed.query_pairs().find(|(k, _)| k == "db").map(|(_, v)| v.into_owned()) else {
        return Ok(url.clone());
    };
    if db.parse::<u32>().is_err() {
        return Err(format!("db={db:?} is not a database number"));
    }
    let path = parsed.path().trim_matches('/').to_string();
    if !path.is_empty() && path != db {
        return Err(format!("the database is {path} in the path but {db} in ?db="));
    }
    let rest: Vec<(String, String)> =
        parsed.query_pairs().filter(|(k, _)| k != "db").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    parsed.set_path(&format!("/{db}"));
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(rest);
    }
    ConnUrl::parse(parsed.as_str(), SCHEMES)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(raw: &str) -> std::result::Result<String, String> {
        database_in_path(&ConnUrl::parse(raw, SCHEMES).unwrap()).map(|u| u.expose().to_string())
    }

    #[test]
    fn a_database_number_in_the_query_moves_to_the_path() {
        assert_eq!(moved("redis://h:6379?db=2").unwrap(), "redis://h:6379/2");
        assert_eq!(moved("redis://u:p@h/2?db=2&protocol=resp3").unwrap(), "redis://u:p@h/2?protocol=resp3");
        assert_eq!(moved("redis://h/3").unwrap(), "redis://h/3");
        assert!(moved("redis://h/1?db=2").unwrap_err().contains("path"));
        assert!(moved("redis://h?db=two").unwrap_err().contains("not a database number"));
    }
}
