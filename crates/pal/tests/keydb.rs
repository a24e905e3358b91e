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

async fn keydb() -> CacheSubject {
    let settings = Settings::from_vars(support::sealed(&[
        ("CACHE_PROVIDER", "keydb"),
        ("DB_PROVIDER", "sqlite"),
        ("KEYDB_HOST", "127.0.0.1"),
        ("KEYDB_PORT", &support::port("VALKEY_PORT")),
    ]))
    .unwrap();
    let cache = build_cache(&settings).await.unwrap();
    assert_eq!(cache.provider(), "keydb");
    CacheSubject::new(cache)
}

cache_conformance!(keydb);

#[tokio::test]
async fn the_stand_in_really_is_valkey() {
    use redis::AsyncCommands as _;
    let mut conn = support::node(&support::port("VALKEY_PORT")).await;
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await.unwrap();
    assert!(info.contains("valkey_version"), "{info}");
    let _: () = conn.set("pal:probe", 1).await.unwrap();
}
