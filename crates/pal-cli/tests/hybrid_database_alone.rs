//! `redis-hybrid` on a database without the hybrid's tables, as `pal check` reports
//! it. (The library's `tests/hybrid_database_alone.rs` has the rest.)

mod support;

use pal::{ErrorKind, Settings};

#[tokio::test]
async fn missing_tables_fail_loudly_until_migrated() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let redis_url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let vars = |auto: &'static str| {
        support::sealed(&[
            ("CACHE_PROVIDER", "redis-hybrid"),
            ("REDIS_URL", redis_url.as_str()),
            ("DB_PROVIDER", "postgresql"),
            ("DATABASE_URL", url.as_str()),
            ("DB_AUTO_MIGRATE", auto),
        ])
    };
    let ttl = pal::Ttl::from_secs(60).unwrap();

    let cache = pal::factory::build_cache(&Settings::from_vars(vars("false")).unwrap()).await.unwrap();
    let err = cache.ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("pal migrate") && err.to_string().contains("pal_cache_journal"), "{err}");
    let err = cache.set("k", "v".into(), ttl).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "a write that would have no fallback is refused: {err}");

    let out = support::pal_command().envs(vars("false")).arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("DOWN: ") && text.contains("pal migrate"), "{text}");

    let cache = pal::factory::build_cache(&Settings::from_vars(vars("true")).unwrap()).await.unwrap();
    cache.ping().await.expect("DB_AUTO_MIGRATE created the tables before the cache was built");
    cache.set("k", "v".into(), ttl).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    teardown.await;
}
