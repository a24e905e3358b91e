//! `redis-hybrid` serving from its database alone: the whole cache conformance
//! suite with Redis behind a fault proxy that blackholes every byte (the breaker
//! opens at the first call and stays open), and again with a proxy that resets
//! every connection. Nothing can come from Redis, so every case that passes
//! passed from the database. (A database without the hybrid's tables, as `pal
//! check` reports it, is the `pal` binary's `tests/hybrid_database_alone.rs`.)

#[macro_use]
mod suite;
mod support;

use std::net::SocketAddr;

use pal::Settings;
use suite::cache::CacheSubject;
use support::proxy::{FaultProxy, Mode};

/// A sealed hybrid, built by the factory, whose Redis is behind a proxy in `mode`.
async fn database_alone(mode: Mode) -> CacheSubject {
    let (url, schema) = suite::servers::guarded_postgres_schema().await;
    let redis: SocketAddr = format!("127.0.0.1:{}", support::port("REDIS_PORT")).parse().unwrap();
    let proxy = FaultProxy::start(redis).await;
    proxy.set(mode);
    let redis_url = proxy.url("redis");
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &redis_url),
        ("REDIS_CONNECT_TIMEOUT_MS", "200"),
        ("REDIS_COMMAND_TIMEOUT_MS", "200"),
        ("CACHE_BREAKER_FAILURE_THRESHOLD", "1"),
        ("CACHE_BREAKER_COOLDOWN_MS", "3600000"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &url),
        ("DB_AUTO_MIGRATE", "true"),
        suite::cache::VALUE_LIMIT,
    ]);
    let cache = pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    // The first call finds Redis unusable and opens the breaker for the whole case.
    cache.get("warm-up").await.unwrap();
    CacheSubject { guard: Some(Box::new((proxy, schema))), ..CacheSubject::new(cache) }
}

mod blackholed {
    use super::*;
    async fn redis_hybrid_blackholed() -> CacheSubject {
        database_alone(Mode::Blackhole).await
    }
    cache_conformance!(redis_hybrid_blackholed);
}

mod reset {
    use super::*;
    async fn redis_hybrid_reset() -> CacheSubject {
        database_alone(Mode::Reset).await
    }
    cache_conformance!(redis_hybrid_reset);
}
