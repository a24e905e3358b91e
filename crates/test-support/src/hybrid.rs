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

/// The breaker cooldown of [`config`], in milliseconds.
pub const COOLDOWN_MS: u64 = 500;
/// The journal drain interval of [`config`], in milliseconds.
pub const DRAIN_MS: u64 = 500;

/// A redis-hybrid configuration that trips and recovers fast: three failures open
/// the breaker, and every write also goes to the database.
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

/// A database on the PostgreSQL at `url`, migrated.
pub async fn migrated(url: &str) -> Arc<dyn DatabaseService> {
    let db = crate::servers::database("postgresql", url, &[]).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    db
}

/// A TTL of `secs` seconds; panics when it is not valid.
pub fn ttl(secs: u64) -> Ttl {
    Ttl::from_secs(secs).unwrap()
}

/// Twelve random hex digits, to keep one run's keys apart from another's.
pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Waits up to 15 seconds for the breaker to close; panics when it does not.
pub async fn wait_closed(cache: &HybridCache) {
    crate::eventually(Duration::from_secs(15), || async { cache.breaker_state() == BreakerState::Closed })
        .await
        .expect("the breaker closes once Redis is back");
}
