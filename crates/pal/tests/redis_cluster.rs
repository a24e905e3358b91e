//! The cache conformance suite on Redis Cluster (3 masters + 3 replicas).

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_cache;
use suite::cache::CacheSubject;

async fn cluster() -> CacheSubject {
    let nodes: Vec<String> = support::port_list("CLUSTER_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let settings = Settings::from_vars(support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_CLUSTER_ENABLED", "true"),
        // Seeding from a subset is enough: the client discovers the rest.
        ("REDIS_CLUSTER_NODES", &nodes[..2].join(",")),
        suite::cache::VALUE_LIMIT,
    ]))
    .unwrap();
    CacheSubject::new(build_cache(&settings).await.unwrap())
}

cache_conformance!(cluster);
