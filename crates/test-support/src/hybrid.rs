//! Building blocks for the redis-hybrid tests: the Redis address and the hybrid
//! settings with short timeouts, cooldowns and drain intervals, and a migrated
//! PostgreSQL schema. The Redis adapter itself (`RedisCache`) is built by the
//! tests, whose builds have the `redis` feature.

use std::sync::Arc;
use std::time::Duration;

use pal::cache::hybrid::{BreakerState, HybridCache, HybridConfig};
use pal::cache::redis::{RedisTopology, Timeouts};
use pal::env::ConnUrl;
use pal::{DatabaseService, Ttl};

pub const COOLDOWN_MS: u64 = 500;
pub const DRAIN_MS: u64 = 500;

pub fn config() -> HybridConfig {
    HybridConfig {
        write_through: true,
        attempts: 3,
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_millis(COOLDOWN_MS),
        drain_interval: Duration::from_millis(DRAIN_MS),
        journal_wait: Duration::from_secs(2),
        purge_interval: Duration::from_secs(60),
    }
}

/// A standalone Redis at `url`, with 300 ms to connect and per command.
pub fn redis_address(url: &str) -> (RedisTopology, Timeouts) {
    let topology = RedisTopology::Standalone(ConnUrl::parse(url, &["redis"]).unwrap());
    let timeouts = Timeouts { connect: Duration::from_millis(300), command: Duration::from_millis(300) };
    (topology, timeouts)
}

pub async fn migrated(url: &str) -> Arc<dyn DatabaseService> {
    let db = crate::servers::database("postgresql", url, &[]).await;
    db.migrate().await.unwrap();
    db
}

pub fn ttl(secs: u64) -> Ttl {
    Ttl::from_secs(secs).unwrap()
}

pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

pub async fn wait_closed(cache: &HybridCache) {
    crate::eventually(Duration::from_secs(15), || async { cache.breaker_state() == BreakerState::Closed })
        .await
        .expect("the breaker closes once Redis is back");
}
