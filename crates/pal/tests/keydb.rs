//! `CACHE_PROVIDER=keydb`. No KeyDB build is available from the package registries
//! here, so this runs against Valkey, a RESP-compatible server, as a stand-in:
//! it verifies pal's keydb configuration path and the RESP commands it sends,
//! not KeyDB itself.

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_cache;
use suite::cache::CacheSubject;

async fn keydb_with(sealing: &[(&str, &str)]) -> CacheSubject {
    let port = support::port("VALKEY_PORT");
    let mut vars = vec![
        ("CACHE_PROVIDER", "keydb"),
        ("DB_PROVIDER", "sqlite"),
        ("KEYDB_HOST", "127.0.0.1"),
        ("KEYDB_PORT", &port),
        suite::cache::VALUE_LIMIT,
    ];
    vars.extend_from_slice(sealing);
    let cache = build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    assert_eq!(cache.provider(), "keydb");
    CacheSubject::new(cache)
}

async fn keydb() -> CacheSubject {
    keydb_with(&support::SEALING).await
}

cache_conformance!(keydb);

/// The same cases with `CACHE_INSECURE_NO_ENCRYPTION=true`.
mod plaintext {
    use super::*;
    async fn keydb_plaintext() -> CacheSubject {
        keydb_with(&[support::PLAINTEXT]).await
    }
    cache_conformance!(keydb_plaintext);
}

#[tokio::test]
async fn the_stand_in_really_is_valkey() {
    use redis::AsyncCommands as _;
    let mut conn = support::node(&support::port("VALKEY_PORT")).await;
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await.unwrap();
    assert!(info.contains("valkey_version"), "{info}");
    let _: () = conn.set("pal:probe", 1).await.unwrap();
}
