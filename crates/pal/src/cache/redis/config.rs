//! The `REDIS_*` variables, read once whichever provider uses them (`redis`, and
//! `redis-hybrid` in front of its database).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::PROVIDER;
use super::address::{RedisServer, RedisTls, RedisTopology, Timeouts};
use crate::cache::near::store::{Store, Tracking};
use crate::cache::{CacheConfig, CacheProvider, CacheService};
use crate::env::{ConnUrl, Env, Var};
use crate::error::{Error, ErrorKind, Result};

/// The schemes of a Redis URL, plain and TLS.
pub const SCHEMES: &[&str] = &["redis", "rediss"];

/// The variables the Redis adapter reads, shared with `keydb` and `redis-hybrid`.
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
    Var::new(
        "REDIS_SENTINEL_TLS",
        Some("false"),
        "redis: reach the sentinels over TLS (the master's TLS follows REDIS_URL's scheme)",
    ),
    Var::new(
        "REDIS_TLS_CA_FILE",
        None,
        "redis, keydb: CA certificates (PEM) that verify the servers, instead of the public roots",
    ),
    Var::new("REDIS_TLS_CERT_FILE", None, "redis, keydb: client certificate (PEM), for servers that require one"),
    Var::new("REDIS_TLS_KEY_FILE", None, "redis, keydb: private key (PEM) of REDIS_TLS_CERT_FILE"),
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
            let tls = env.bool("REDIS_SENTINEL_TLS");
            Some(RedisTopology::Sentinel { master, nodes, password, url, tls })
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
    let tls = tls_files(env);
    if required_by.is_some() {
        check_tls_use(env, "REDIS_URL", topology.as_ref(), &tls);
    }
    RedisServer { topology, timeouts: timeouts(env), tls }
}

/// `REDIS_TLS_*`: the files read and checked now, so a wrong path or a key that
/// is not its certificate's stops start-up.
pub fn tls_files(env: &mut Env) -> RedisTls {
    let path = |env: &mut Env, var: &'static str| env.get(var).filter(|v| !v.is_empty()).map(str::to_string);
    let ca = path(env, "REDIS_TLS_CA_FILE").and_then(|file| match crate::tls::check_ca(&file) {
        Ok(pem) => Some((file, pem)),
        Err(why) => {
            env.invalid("REDIS_TLS_CA_FILE", &file, why);
            None
        }
    });
    let client = match (path(env, "REDIS_TLS_CERT_FILE"), path(env, "REDIS_TLS_KEY_FILE")) {
        (Some(cert), Some(key)) => match crate::tls::check_client_pair(&cert, &key) {
            Ok(pair) => Some(pair),
            Err(why) => {
                env.invalid("REDIS_TLS_CERT_FILE", &cert, why);
                None
            }
        },
        (None, None) => None,
        (Some(_), None) => {
            env.contradiction(
                "REDIS_TLS_CERT_FILE is set without REDIS_TLS_KEY_FILE: a client certificate needs its key",
            );
            None
        }
        (None, Some(_)) => {
            env.contradiction("REDIS_TLS_KEY_FILE is set without REDIS_TLS_CERT_FILE: a key needs its certificate");
            None
        }
    };
    RedisTls { ca, client }
}

/// Certificates with no TLS connection to use them would leave the connection in
/// plaintext while the operator believes otherwise; a server no public CA can
/// certify would fail every handshake. Both are start-up errors.
pub fn check_tls_use(env: &mut Env, url_var: &'static str, topology: Option<&RedisTopology>, tls: &RedisTls) {
    let Some(topology) = topology else { return };
    let files_set = tls.ca.is_some() || tls.client.is_some();
    if files_set && !topology.any_tls() {
        env.contradiction(
            "REDIS_TLS_* files are set but no Redis connection uses TLS: use a rediss:// URL \
             (or REDIS_SENTINEL_TLS=true for the sentinels), or unset the files",
        );
        return;
    }
    let urls = match topology {
        RedisTopology::Standalone(url) => vec![url.clone()],
        RedisTopology::Sentinel { url, .. } | RedisTopology::Cluster { url, .. } => url.iter().cloned().collect(),
    };
    for url in urls.iter().filter(|u| u.scheme() == "rediss") {
        if url.expose().contains("#insecure") {
            env.invalid(
                url_var,
                url.redacted(),
                "#insecure would accept any certificate; pal always verifies: give the CA in REDIS_TLS_CA_FILE",
            );
        }
    }
    if tls.ca.is_none() && topology.any_tls() {
        let hosts: Vec<String> = match topology {
            RedisTopology::Standalone(url) => {
                url::Url::parse(url.expose()).ok().and_then(|u| u.host_str().map(str::to_string)).into_iter().collect()
            }
            RedisTopology::Sentinel { nodes, .. } | RedisTopology::Cluster { nodes, .. } => {
                nodes.iter().map(|n| n.host.clone()).collect()
            }
        };
        if let Some(host) = hosts.iter().find(|h| crate::tls::public_roots_cannot_apply(h)) {
            env.contradiction(format!(
                "Redis TLS verifies the server against the public CAs pal carries, and none of them certifies \
                 {host}: set REDIS_TLS_CA_FILE to the CA that signed the server's certificate"
            ));
        }
    }
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
    adapter(provider, topology, server)
}

#[cfg(feature = "redis")]
fn adapter(
    provider: &'static CacheProvider,
    topology: &RedisTopology,
    server: &RedisServer,
) -> Result<Arc<dyn CacheService>> {
    Ok(Arc::new(super::backend::RedisCache::with_tls(provider, topology, server.timeouts, &server.tls)?))
}

#[cfg(not(feature = "redis"))]
fn adapter(provider: &'static CacheProvider, _: &RedisTopology, _: &RedisServer) -> Result<Arc<dyn CacheService>> {
    Err(Error::not_built("CACHE_PROVIDER", provider.name, PROVIDER.feature.unwrap_or_default()))
}

/// Starts telling a near cache's `store` what changes on `server` under `prefix`.
#[cfg(feature = "redis")]
pub(crate) fn track(server: &RedisServer, prefix: &str, store: Arc<Store>) -> Result<Tracking> {
    Ok(Box::new(super::tracking::start(server, prefix, store)?))
}

#[cfg(not(feature = "redis"))]
pub(crate) fn track(_: &RedisServer, _: &str, _: Arc<Store>) -> Result<Tracking> {
    Err(Error::not_built("CACHE_PROVIDER", PROVIDER.name, PROVIDER.feature.unwrap_or_default()))
}

#[derive(Debug)]
struct RedisConfig(RedisServer);

/// Reads the `redis` variables; see [`Configure`](crate::cache::Configure).
pub fn configure(env: &mut Env, selected: bool) -> Option<Arc<dyn CacheConfig>> {
    Some(Arc::new(RedisConfig(read(env, selected.then_some(PROVIDER.name)))))
}

impl CacheConfig for RedisConfig {
    fn track(&self, prefix: &str, store: Arc<Store>) -> Option<Result<Tracking>> {
        Some(track(&self.0, prefix, store))
    }

    fn target(&self) -> String {
        self.0.topology.as_ref().map_or_else(|| "-".to_string(), RedisTopology::target)
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>> {
        Box::pin(async move { connect(&PROVIDER, &self.0) })
    }

    fn peer(&self) -> Option<crate::cache::Peer> {
        self.0.peer()
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
