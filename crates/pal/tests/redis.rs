//! The cache conformance suite on a standalone Redis, built from the environment
//! variables an application would set.

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_cache;
use suite::cache::CacheSubject;

async fn redis() -> CacheSubject {
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let settings = Settings::from_vars(support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_URL", &url),
    ]))
    .unwrap();
    let cache = build_cache(&settings).await.unwrap();
    assert_eq!(cache.provider(), "redis");
    CacheSubject::new(cache)
}

cache_conformance!(redis);
