//! The cache conformance suite through Redis Sentinel (1 master, 1 replica, 3 sentinels).

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_cache;
use suite::cache::CacheSubject;

async fn sentinel() -> CacheSubject {
    let nodes: Vec<String> = support::port_list("SENTINEL_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let settings = Settings::from_vars(support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_SENTINEL_ENABLED", "true"),
        ("REDIS_SENTINEL_MASTER", &support::port("SENTINEL_MASTER_NAME")),
        ("REDIS_SENTINEL_NODES", &nodes.join(",")),
        suite::cache::VALUE_LIMIT,
    ]))
    .unwrap();
    CacheSubject::new(build_cache(&settings).await.unwrap())
}

cache_conformance!(sentinel);
