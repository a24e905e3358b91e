//! The hybrid's variables, beside the `REDIS_*` ones it shares with `redis`.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::PROVIDER;
use super::layer::HybridCache;
use super::state::HybridConfig;
use crate::cache::near::store::{Store, Tracking};
use crate::cache::redis::{self, RedisServer, RedisTopology};
use crate::cache::{BuildContext, CacheConfig, CacheService};
use crate::env::{Env, Var};
use crate::error::{Error, ErrorKind, Result};

pub(super) const VARS: &[Var] = &[
    // Named after PostgreSQL once; any configured database serves as the fallback.
    Var::renamed(
        "CACHE_FALLBACK_ENABLED",
        "POSTGRES_FALLBACK_ENABLED",
        Some("true"),
        "redis-hybrid: fall back to the database when Redis fails",
    ),
    Var::renamed(
        "CACHE_FALLBACK_WRITE_THROUGH",
        "POSTGRES_FALLBACK_CACHE",
        Some("true"),
        "redis-hybrid: also write every value to the database while Redis is healthy",
    ),
    Var::new(
        "FALLBACK_RETRY_ATTEMPTS",
        Some("3"),
        "redis-hybrid: attempts on Redis for a transient error before falling back",
    ),
    Var::new(
        "CACHE_BREAKER_FAILURE_THRESHOLD",
        Some("5"),
        "redis-hybrid: consecutive Redis failures that open the circuit breaker",
    ),
    Var::new(
        "CACHE_BREAKER_COOLDOWN_MS",
        Some("5000"),
        "redis-hybrid: time the breaker stays open before probing Redis again",
    ),
    Var::new(
        "CACHE_JOURNAL_DRAIN_INTERVAL_MS",
        Some("5000"),
        "redis-hybrid: how often each instance invalidates journaled keys in Redis (the staleness bound after another instance's outage)",
    ),
    Var::new(
        "CACHE_JOURNAL_WAIT_MS",
        Some("2000"),
        "redis-hybrid: how long a starting instance waits for its first journal drain before serving from the database instead",
    ),
    Var::new(
        "CACHE_PURGE_INTERVAL_MS",
        Some("60000"),
        "redis-hybrid: how often expired values and counters are deleted from the database",
    ),
];

#[derive(Debug)]
struct RedisHybridConfig {
    redis: RedisServer,
    /// `CACHE_FALLBACK_ENABLED`: without it the provider is plain Redis.
    enabled: bool,
    layer: HybridConfig,
}

/// Reads the `redis-hybrid` variables (and Redis's own); see [`Configure`](crate::cache::Configure).
pub fn configure(env: &mut Env, selected: bool) -> Option<Arc<dyn CacheConfig>> {
    let redis = redis::config::read(env, selected.then_some(PROVIDER.name));
    let enabled = env.bool("CACHE_FALLBACK_ENABLED");
    let layer = HybridConfig {
        write_through: env.bool("CACHE_FALLBACK_WRITE_THROUGH"),
        attempts: env.int("FALLBACK_RETRY_ATTEMPTS", 1u32, 10),
        breaker_threshold: env.int("CACHE_BREAKER_FAILURE_THRESHOLD", 1u32, 1000),
        breaker_cooldown: env.millis("CACHE_BREAKER_COOLDOWN_MS"),
        drain_interval: env.millis("CACHE_JOURNAL_DRAIN_INTERVAL_MS"),
        journal_wait: env.millis("CACHE_JOURNAL_WAIT_MS"),
        purge_interval: env.millis("CACHE_PURGE_INTERVAL_MS"),
    };
    Some(Arc::new(RedisHybridConfig { redis, enabled, layer }))
}

impl CacheConfig for RedisHybridConfig {
    /// A write may be acknowledged by the database alone.
    fn writes_reach_tracked_server(&self) -> bool {
        false
    }

    fn track(&self, prefix: &str, store: Arc<Store>) -> Option<Result<Tracking>> {
        Some(redis::config::track(&self.redis, prefix, store))
    }

    fn target(&self) -> String {
        self.redis.topology.as_ref().map_or_else(|| "-".to_string(), RedisTopology::target)
    }

    /// The database needs the schema (`pal migrate` or `DB_AUTO_MIGRATE`).
    fn needs_database(&self) -> bool {
        self.enabled
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>> {
        Box::pin(async move { redis::config::connect(&redis::PROVIDER, &self.redis) })
    }

    /// Redis alone: what the hybrid costs over the server it fronts.
    fn peer(&self) -> Option<crate::cache::Peer> {
        self.redis.peer()
    }

    fn layer(&self, redis: Arc<dyn CacheService>, context: BuildContext) -> Result<Arc<dyn CacheService>> {
        if !self.enabled {
            return Ok(redis);
        }
        let db = context.database.ok_or_else(|| {
            Error::new(ErrorKind::Config, format!("CACHE_PROVIDER={} needs the database", PROVIDER.name))
        })?;
        Ok(Arc::new(HybridCache::with_near(redis, db, self.layer.clone(), context.near)))
    }
}
