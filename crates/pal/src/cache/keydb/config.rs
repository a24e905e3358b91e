use std::sync::Arc;

use futures::future::BoxFuture;

use super::PROVIDER;
use crate::cache::near::store::{Store, Tracking};
use crate::cache::redis::{self, RedisServer, RedisTopology};
use crate::cache::{CacheConfig, CacheService};
use crate::env::{ConnUrl, Env, HostPort, Var};
use crate::error::{ConfigError, Result};

pub(super) const VARS: &[Var] = &[
    Var::secret(
        "KEYDB_URL",
        "keydb: redis://… or rediss://… URL of the KeyDB server (or set KEYDB_HOST and KEYDB_PORT)",
    ),
    Var::new("KEYDB_HOST", None, "keydb: host, when KEYDB_URL is not set"),
    Var::new("KEYDB_PORT", Some("6379"), "keydb: port, used with KEYDB_HOST"),
];

#[derive(Debug)]
struct KeyDbConfig(RedisServer);

/// Reads the `keydb` variables; see [`Configure`](crate::cache::Configure).
pub fn configure(env: &mut Env, selected: bool) -> Option<Arc<dyn CacheConfig>> {
    let url = url(env, selected);
    let topology = url.map(RedisTopology::Standalone);
    let tls = redis::config::tls_files(env);
    if selected {
        redis::config::check_tls_use(env, "KEYDB_URL", topology.as_ref(), &tls);
    }
    let server = RedisServer { topology, timeouts: redis::config::timeouts(env), tls };
    Some(Arc::new(KeyDbConfig(server)))
}

fn url(env: &mut Env, required: bool) -> Option<ConnUrl> {
    let port: u16 = env.int("KEYDB_PORT", 1, u16::MAX);
    match (env.is_set("KEYDB_URL"), env.get("KEYDB_HOST").map(str::to_string)) {
        (true, Some(_)) => {
            env.contradiction(
                "KEYDB_URL and KEYDB_HOST are both set: set KEYDB_URL, or KEYDB_HOST and KEYDB_PORT, not both",
            );
            None
        }
        (true, None) => env.url("KEYDB_URL", redis::config::SCHEMES),
        (false, Some(host)) => match HostPort::parse(&host, port) {
            Ok(hp) if hp.port == port => ConnUrl::parse(&format!("redis://{hp}"), redis::config::SCHEMES).ok(),
            _ => {
                env.fail(ConfigError::InvalidValue {
                    var: "KEYDB_HOST",
                    value: host,
                    reason: "expected a host name or IP address (the port goes in KEYDB_PORT)".into(),
                });
                None
            }
        },
        (false, None) => {
            if required {
                env.missing(
                    "KEYDB_URL",
                    &format!("when CACHE_PROVIDER={} (or set KEYDB_HOST and KEYDB_PORT)", PROVIDER.name),
                    "redis://127.0.0.1:6379",
                );
            }
            None
        }
    }
}

impl CacheConfig for KeyDbConfig {
    fn track(&self, prefix: &str, store: Arc<Store>) -> Option<Result<Tracking>> {
        Some(redis::config::track(&self.0, prefix, store))
    }

    fn target(&self) -> String {
        self.0.topology.as_ref().map_or_else(|| "-".to_string(), RedisTopology::target)
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>> {
        Box::pin(async move { redis::config::connect(&PROVIDER, &self.0) })
    }

    fn peer(&self) -> Option<crate::cache::Peer> {
        self.0.peer()
    }
}
