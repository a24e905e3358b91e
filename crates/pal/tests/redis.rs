//! The cache conformance suite on a standalone Redis, built from the environment
//! variables an application would set.

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_cache;
use suite::cache::CacheSubject;

async fn redis_with(sealing: &[(&str, &str)]) -> CacheSubject {
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let mut vars = vec![
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_URL", url.as_str()),
        suite::cache::VALUE_LIMIT,
    ];
    vars.extend_from_slice(sealing);
    let cache = build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    assert_eq!(cache.provider(), "redis");
    CacheSubject::new(cache)
}

async fn redis() -> CacheSubject {
    redis_with(&support::SEALING).await
}

cache_conformance!(redis);

/// The same cases with `CACHE_INSECURE_NO_ENCRYPTION=true`: keys and values as given.
mod plaintext {
    use super::*;
    async fn redis_plaintext() -> CacheSubject {
        redis_with(&[support::PLAINTEXT]).await
    }
    cache_conformance!(redis_plaintext);
}
