//! `pal check` on memcached shards, one of them a name that does not resolve: it
//! is a server that is down, not a configuration error. (The library's
//! `tests/memcached.rs` has the rest.)

mod support;

use bytes::Bytes;
use pal::factory::build_cache;
use pal::{ErrorKind, Settings, Ttl};
use support::PLAINTEXT;

/// A server whose name does not resolve is a server that is down: its keys fail,
/// the others work, `ping` names it, and nothing stops at start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unresolvable_server_is_a_server_that_is_down() {
    let shards = support::port_list("MEMCACHED_SHARD_PORTS");
    let list = format!("127.0.0.1:{},mc-shard-2.invalid:11211,127.0.0.1:{}", shards[0], shards[2]);
    let vars = [
        ("CACHE_PROVIDER", "memcached"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("MEMCACHED_SERVERS", list.as_str()),
        PLAINTEXT,
    ];
    let cache = build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    let err = cache.ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("mc-shard-2.invalid:11211") && err.to_string().contains("1 of 3"), "{err}");
    let (mut failed, mut worked) = (0, 0);
    for i in 0..60 {
        let key = format!("unresolvable:{i}");
        match cache.set(&key, Bytes::from_static(b"v"), Ttl::from_secs(60).unwrap()).await {
            Ok(()) => {
                assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&b"v"[..]));
                worked += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
                assert!(e.to_string().contains("mc-shard-2.invalid"), "{e}");
                failed += 1;
            }
        }
    }
    assert!(failed > 5 && worked > 20, "{failed} keys failed on the unresolvable server, {worked} worked elsewhere");
    let out = support::pal_command().envs(vars).arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "unhealthy, not a configuration error: {text}");
    assert!(text.contains("mc-shard-2.invalid"), "{text}");
}
