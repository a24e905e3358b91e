//! Every environment variable pal reads, parsed and validated once at start-up.
//! Nothing else in the crate touches `std::env`.

mod env;
mod errors;
mod sealing;
pub mod vars;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

pub use env::{ConnUrl, HostPort};
pub use errors::{ConfigError, ConfigErrors};
pub use sealing::SealingKeys;

use crate::factory::{CacheProvider, DbProvider};
use env::Env;

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    pub cache: CacheSettings,
    pub db: DbSettings,
    pub server: ServerSettings,
    pub log_filter: String,
    /// Problems that do not stop start-up, such as an unknown `CACHE_…` variable.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CacheSettings {
    pub provider: CacheProvider,
    pub key_prefix: String,
    pub memory_max_entries: u64,
    pub redis: RedisSettings,
    pub keydb_url: Option<ConnUrl>,
    pub memcached: MemcachedSettings,
    pub fallback: FallbackSettings,
    /// Keys for hashing cache keys and sealing values; `None` stores plaintext.
    pub sealing: Option<SealingKeys>,
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisSettings {
    /// `None` when the selected cache provider does not use Redis and none is configured.
    pub topology: Option<RedisTopology>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum RedisTopology {
    Standalone(ConnUrl),
    /// `url`, when set, supplies the master's credentials, database number and TLS.
    Sentinel {
        master: String,
        nodes: Vec<HostPort>,
        password: Option<SecretString>,
        url: Option<ConnUrl>,
    },
    /// `url`, when set, supplies the nodes' credentials and TLS.
    Cluster {
        nodes: Vec<HostPort>,
        url: Option<ConnUrl>,
    },
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MemcachedSettings {
    pub servers: Vec<HostPort>,
    pub max_item_bytes: usize,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FallbackSettings {
    pub enabled: bool,
    pub cache: bool,
    pub retry_attempts: u32,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    pub drain_interval: Duration,
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DbSettings {
    pub provider: DbProvider,
    pub url: ConnUrl,
    pub replica_url: Option<ConnUrl>,
    pub pool: PoolSettings,
    pub auto_migrate: bool,
    pub tx_max_retries: u32,
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolSettings {
    pub max: u32,
    pub min: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    pub statement_timeout: Duration,
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerSettings {
    pub bind: IpAddr,
    pub port: u16,
}

const REDIS_SCHEMES: &[&str] = &["redis", "rediss"];

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigErrors> {
        let vars =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        Settings::from_map(vars)
    }

    /// Reads the given variables as if they were the environment (for tests and tools).
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Settings, ConfigErrors> {
        Settings::from_map(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    fn from_map(vars: BTreeMap<String, String>) -> Result<Settings, ConfigErrors> {
        let mut env = Env::new(vars);
        let mut warnings = unknown_variables(&env);
        let cache = cache_settings(&mut env);
        let db = db_settings(&mut env);
        let server = ServerSettings { bind: bind_address(&mut env), port: env.int("PORT", 1u16, u16::MAX) };
        let log_filter = env.string("RUST_LOG");
        warnings.append(&mut env.warnings);
        match (cache, db) {
            (Some(cache), Some(db)) if env.errors.is_empty() => {
                Ok(Settings { cache, db, server, log_filter, warnings })
            }
            _ => Err(ConfigErrors { errors: env.errors, notes: warnings }),
        }
    }
}

fn cache_settings(env: &mut Env) -> Option<CacheSettings> {
    let provider = env.choice("CACHE_PROVIDER", CacheProvider::NAMES, CacheProvider::from_name);
    let redis = redis_settings(env, provider.is_some_and(CacheProvider::uses_redis));
    let keydb_url = keydb_url(env, provider == Some(CacheProvider::KeyDb));
    let memcached = MemcachedSettings {
        servers: env.hosts("MEMCACHED_SERVERS", 11211),
        max_item_bytes: env.int("MEMCACHED_MAX_ITEM_BYTES", 1024usize, 1 << 30),
        connect_timeout: env.millis("MEMCACHED_CONNECT_TIMEOUT_MS"),
        command_timeout: env.millis("MEMCACHED_COMMAND_TIMEOUT_MS"),
    };
    if provider == Some(CacheProvider::Memcached) && !env.is_set("MEMCACHED_SERVERS") {
        env.fail(missing("MEMCACHED_SERVERS", "when CACHE_PROVIDER=memcached", "127.0.0.1:11211,127.0.0.1:11212"));
    }
    let fallback = FallbackSettings {
        enabled: env.bool("POSTGRES_FALLBACK_ENABLED"),
        cache: env.bool("POSTGRES_FALLBACK_CACHE"),
        retry_attempts: env.int("FALLBACK_RETRY_ATTEMPTS", 1u32, 10),
        breaker_threshold: env.int("CACHE_BREAKER_FAILURE_THRESHOLD", 1u32, 1000),
        breaker_cooldown: env.millis("CACHE_BREAKER_COOLDOWN_MS"),
        drain_interval: env.millis("CACHE_JOURNAL_DRAIN_INTERVAL_MS"),
    };
    let sealing = sealing::sealing(env, provider);
    Some(CacheSettings {
        provider: provider?,
        key_prefix: env.string("CACHE_KEY_PREFIX"),
        memory_max_entries: env.int("CACHE_MEMORY_MAX_ENTRIES", 1u64, u64::MAX / 2),
        redis,
        keydb_url,
        memcached,
        fallback,
        sealing,
    })
}

fn redis_settings(env: &mut Env, required: bool) -> RedisSettings {
    let cluster = env.bool("REDIS_CLUSTER_ENABLED");
    let sentinel = env.bool("REDIS_SENTINEL_ENABLED");
    let url = env.url("REDIS_URL", REDIS_SCHEMES);
    let topology = match (cluster, sentinel) {
        (true, true) => {
            env.fail(ConfigError::Contradiction(
                "REDIS_CLUSTER_ENABLED=true and REDIS_SENTINEL_ENABLED=true contradict each other: \
                 Redis Cluster fails over by itself; set one of them to false"
                    .into(),
            ));
            None
        }
        (true, false) => {
            let nodes = env.hosts("REDIS_CLUSTER_NODES", 6379);
            if nodes.is_empty() && !env.is_set("REDIS_CLUSTER_NODES") {
                env.fail(missing(
                    "REDIS_CLUSTER_NODES",
                    "when REDIS_CLUSTER_ENABLED=true",
                    "10.0.0.1:7000,10.0.0.2:7000",
                ));
            }
            Some(RedisTopology::Cluster { nodes, url })
        }
        (false, true) => {
            let nodes = env.hosts("REDIS_SENTINEL_NODES", 26379);
            if nodes.is_empty() && !env.is_set("REDIS_SENTINEL_NODES") {
                env.fail(missing(
                    "REDIS_SENTINEL_NODES",
                    "when REDIS_SENTINEL_ENABLED=true",
                    "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379",
                ));
            }
            let master = env.string("REDIS_SENTINEL_MASTER");
            let password = env.secret("REDIS_SENTINEL_PASSWORD");
            Some(RedisTopology::Sentinel { master, nodes, password, url })
        }
        (false, false) => match url {
            Some(url) => Some(RedisTopology::Standalone(url)),
            None if required && !env.is_set("REDIS_URL") => {
                env.fail(missing(
                    "REDIS_URL",
                    "for CACHE_PROVIDER=redis or redis-hybrid (or enable cluster or sentinel)",
                    "redis://127.0.0.1:6379",
                ));
                None
            }
            None => None,
        },
    };
    RedisSettings {
        topology,
        connect_timeout: env.millis("REDIS_CONNECT_TIMEOUT_MS"),
        command_timeout: env.millis("REDIS_COMMAND_TIMEOUT_MS"),
    }
}

fn keydb_url(env: &mut Env, required: bool) -> Option<ConnUrl> {
    let port: u16 = env.int("KEYDB_PORT", 1, u16::MAX);
    match (env.is_set("KEYDB_URL"), env.get("KEYDB_HOST").map(str::to_string)) {
        (true, Some(_)) => {
            env.fail(ConfigError::Contradiction(
                "KEYDB_URL and KEYDB_HOST are both set: set KEYDB_URL, or KEYDB_HOST and KEYDB_PORT, not both".into(),
            ));
            None
        }
        (true, None) => env.url("KEYDB_URL", REDIS_SCHEMES),
        (false, Some(host)) => match HostPort::parse(&host, port) {
            Ok(hp) if hp.port == port => ConnUrl::parse(&format!("redis://{hp}"), REDIS_SCHEMES).ok(),
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
                env.fail(missing(
                    "KEYDB_URL",
                    "when CACHE_PROVIDER=keydb (or set KEYDB_HOST and KEYDB_PORT)",
                    "redis://127.0.0.1:6379",
                ));
            }
            None
        }
    }
}

fn db_settings(env: &mut Env) -> Option<DbSettings> {
    let provider = env.choice("DB_PROVIDER", DbProvider::NAMES, DbProvider::from_name);
    let errors_before = env.errors.len();
    let pool = PoolSettings {
        max: env.int("DB_POOL_MAX", 1u32, 10_000),
        min: env.int("DB_POOL_MIN", 0u32, 10_000),
        acquire_timeout: env.millis("DB_POOL_ACQUIRE_TIMEOUT_MS"),
        idle_timeout: Duration::from_secs(env.int("DB_IDLE_TIMEOUT_S", 1u64, 86_400)),
        statement_timeout: env.millis("DB_STATEMENT_TIMEOUT_MS"),
    };
    if pool.min > pool.max && env.errors.len() == errors_before {
        env.fail(ConfigError::Contradiction(format!(
            "DB_POOL_MIN={} is larger than DB_POOL_MAX={}: the pool cannot keep more idle connections than it may open",
            pool.min, pool.max
        )));
    }
    let tx_max_retries = env.int("DB_TX_MAX_RETRIES", 0u32, 100);
    let auto_migrate = env.opt_bool("DB_AUTO_MIGRATE");
    let provider = provider?;
    let schemes = provider.url_schemes();
    let url = match env.url("DATABASE_URL", schemes) {
        Some(url) => Some(url),
        None if env.is_set("DATABASE_URL") => None,
        None => match provider.default_url() {
            Some(default) => ConnUrl::parse(default, schemes).ok(),
            None => {
                env.fail(missing(
                    "DATABASE_URL",
                    &format!("for DB_PROVIDER={}", provider.name()),
                    provider.example_url(),
                ));
                None
            }
        },
    };
    let replica_url = env.url("DB_REPLICA_URL", schemes);
    if replica_url.is_some() && !provider.supports_replicas() {
        env.fail(ConfigError::Contradiction(format!(
            "DB_REPLICA_URL is set but DB_PROVIDER={} has no replicas: unset DB_REPLICA_URL",
            provider.name()
        )));
    }
    Some(DbSettings {
        provider,
        url: url?,
        replica_url,
        pool,
        auto_migrate: auto_migrate.unwrap_or(provider.embedded()),
        tx_max_retries,
    })
}

fn bind_address(env: &mut Env) -> IpAddr {
    let raw = env.string("BIND");
    raw.parse().unwrap_or_else(|_| {
        env.fail(ConfigError::InvalidValue {
            var: "BIND",
            value: raw,
            reason: "expected an IP address such as 127.0.0.1 or 0.0.0.0".into(),
        });
        IpAddr::from([127, 0, 0, 1])
    })
}

fn missing(var: &'static str, because: &str, example: &'static str) -> ConfigError {
    ConfigError::Missing { var, because: because.to_string(), example: format!("{var}={example}") }
}

fn unknown_variables(env: &Env) -> Vec<String> {
    env.names()
        .filter(|name| vars::OWNED_PREFIXES.iter().any(|p| name.starts_with(p)) && vars::lookup(name).is_none())
        .map(|name| format!("{name} is set but pal does not read it (misspelled?)"))
        .collect()
}

#[cfg(test)]
mod tests;
