//! `CACHE_PROVIDER=memcached` on real memcached servers: the conformance suite on
//! one server and on three shards, how keys spread and move, and a shard dying.

#[macro_use]
mod suite;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pal::factory::build_cache;
use pal::{CacheService, ErrorKind, Settings, Ttl};
use suite::cache::CacheSubject;

use support::PLAINTEXT;

fn servers(ports: &[String]) -> String {
    ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
}

async fn cache_on(ports: &[String], extra: &[(&str, &str)]) -> Arc<dyn CacheService> {
    let list = servers(ports);
    let mut vars = vec![
        ("CACHE_PROVIDER", "memcached"),
        ("DB_PROVIDER", "sqlite"),
        ("MEMCACHED_SERVERS", list.as_str()),
        suite::cache::VALUE_LIMIT,
    ];
    vars.extend_from_slice(extra);
    // Tests about placement read keys on the servers, so they opt out of sealing.
    let vars = if extra.contains(&PLAINTEXT) { vars } else { support::sealed(&vars) };
    let cache = build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    assert_eq!(cache.provider(), "memcached");
    cache
}

fn subject(cache: Arc<dyn CacheService>) -> CacheSubject {
    let subject = CacheSubject::new(cache);
    // What the adapter declares, checked here against memcached's documented rules:
    // its 1 MiB default item size, unsigned counters, and a clock of whole seconds
    // (pal adds a second so an item never expires early, so it may outlive its TTL
    // by up to one second).
    assert_eq!(subject.size_limit, Some(1024 * 1024));
    assert!(!subject.signed_counters);
    assert!(subject.expiry_slack >= Duration::from_secs(1));
    subject
}

mod single {
    use super::*;
    async fn memcached() -> CacheSubject {
        subject(cache_on(&[support::port("MEMCACHED_PORT")], &[]).await)
    }
    cache_conformance!(memcached);
}

mod sharded {
    use super::*;
    async fn memcached() -> CacheSubject {
        subject(cache_on(&support::port_list("MEMCACHED_SHARD_PORTS"), &[]).await)
    }
    cache_conformance!(memcached);
}

/// The same cases on three shards with `CACHE_INSECURE_NO_ENCRYPTION=true`: keys
/// reach the servers as given, so those memcached would refuse go through the
/// mapping.
mod sharded_plaintext {
    use super::*;
    async fn memcached_plaintext() -> CacheSubject {
        subject(cache_on(&support::port_list("MEMCACHED_SHARD_PORTS"), &[PLAINTEXT]).await)
    }
    cache_conformance!(memcached_plaintext);
}

/// Which server holds `key`, asked of each server directly over the text protocol.
async fn holder(ports: &[String], key: &str) -> Option<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    for port in ports {
        let stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await.unwrap();
        let mut stream = BufReader::new(stream);
        stream.get_mut().write_all(format!("mg {key}\r\n").as_bytes()).await.unwrap();
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        if line.starts_with("HD") || line.starts_with("VA") {
            return Some(port.clone());
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_spread_evenly_and_few_move_when_a_server_is_added() {
    let shards = support::port_list("MEMCACHED_SHARD_PORTS");
    let three = cache_on(&shards, &[PLAINTEXT]).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let keys: Vec<String> = (0..10_000).map(|i| format!("spread:{run}:{i}")).collect();
    for chunk in keys.chunks(500) {
        let writes = chunk.iter().map(|k| three.set(k, Bytes::from_static(b"v"), Ttl::from_secs(300).unwrap()));
        for w in futures::future::join_all(writes).await {
            w.unwrap();
        }
    }
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for k in &keys[..3000] {
        *counts.entry(holder(&shards, k).await.expect("every key is on some server")).or_default() += 1;
    }
    let max_share = *counts.values().max().unwrap() as f64 / 3000.0;
    eprintln!("placement of 3000 sampled keys over 3 servers: {counts:?} (max share {max_share:.3})");
    assert_eq!(counts.len(), 3);
    assert!(max_share <= 0.45, "one server holds {max_share:.3} of the keys");

    // Through a client with a fourth server, a key that moved is a miss: it lives
    // on its old server, and its new one (the fourth) is empty.
    let mut four_ports = shards.clone();
    four_ports.push(support::port("MEMCACHED_EXTRA_PORT"));
    let four = cache_on(&four_ports, &[PLAINTEXT]).await;
    let mut moved = 0;
    for k in &keys {
        moved += usize::from(four.get(k).await.unwrap().is_none());
    }
    let moved_share = moved as f64 / keys.len() as f64;
    eprintln!("adding a fourth server moved {moved} of {} keys ({moved_share:.3})", keys.len());
    assert!(moved_share <= 0.35, "{moved_share}");
    assert!(moved_share > 0.10, "a fourth server should take its share: {moved_share}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_shard_fails_only_its_keys_and_is_used_again_after_restart() {
    support::ensure("memcached");
    let _restore = support::Restore("memcached");
    let shards = support::port_list("MEMCACHED_SHARD_PORTS");
    let cache = cache_on(
        &shards,
        &[("MEMCACHED_CONNECT_TIMEOUT_MS", "300"), ("MEMCACHED_COMMAND_TIMEOUT_MS", "300"), PLAINTEXT],
    )
    .await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let keys: Vec<String> = (0..300).map(|i| format!("dead:{run}:{i}")).collect();
    for k in &keys {
        cache.set(k, Bytes::from(k.clone()), Ttl::from_secs(300).unwrap()).await.unwrap();
    }
    let victim = shards[1].clone();
    let mut on_victim = Vec::new();
    for k in &keys {
        if holder(&shards, k).await.as_deref() == Some(victim.as_str()) {
            on_victim.push(k.clone());
        }
    }
    assert!(!on_victim.is_empty());
    support::signal(support::pid_of(&victim), "KILL");
    support::eventually(Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(format!("127.0.0.1:{victim}")).await.is_err()
    })
    .await
    .expect("the shard died");

    let (mut ok, mut failed) = (0, 0);
    for k in &keys {
        let started = Instant::now();
        let result = cache.get(k).await;
        assert!(started.elapsed() < Duration::from_millis(1200), "a call took {:?}", started.elapsed());
        match result {
            Ok(v) => {
                assert!(!on_victim.contains(k), "a key on the dead shard was served");
                assert_eq!(v.as_deref(), Some(k.as_bytes()));
                ok += 1;
            }
            Err(e) => {
                assert!(on_victim.contains(k), "a key on a live shard failed: {e}");
                assert!(matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout), "{e}");
                failed += 1;
            }
        }
    }
    eprintln!("with one of three shards dead: {ok} keys served, {failed} errors (all on the dead shard)");
    assert_eq!(failed, on_victim.len());

    support::ensure("memcached");
    let k = on_victim[0].clone();
    support::eventually(Duration::from_secs(10), || async {
        cache.set(&k, Bytes::from_static(b"again"), Ttl::from_secs(60).unwrap()).await.is_ok()
    })
    .await
    .expect("the restarted shard is used again without rebuilding the client");
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some(&b"again"[..]));
}

#[tokio::test]
async fn keys_memcached_would_reject_still_work() {
    let cache = cache_on(&[support::port("MEMCACHED_PORT")], &[]).await;
    let ttl = Ttl::from_secs(60).unwrap();
    let long = format!("long:{}", "x".repeat(400));
    for (i, key) in [long.as_str(), "with space", "tab\there", "ctl\u{1}", "~h:lookalike"].iter().enumerate() {
        cache.set(key, Bytes::from(i.to_string()), ttl).await.unwrap();
    }
    for (i, key) in [long.as_str(), "with space", "tab\there", "ctl\u{1}", "~h:lookalike"].iter().enumerate() {
        assert_eq!(cache.get(key).await.unwrap().as_deref(), Some(i.to_string().as_bytes()), "{key:?}");
    }
}

#[tokio::test]
async fn ttls_over_thirty_days_are_not_expired_at_once() {
    let cache = cache_on(&[support::port("MEMCACHED_PORT")], &[]).await;
    let key = format!("longttl:{}", uuid::Uuid::new_v4().simple());
    cache.set(&key, Bytes::from_static(b"v"), Ttl::from_secs(90 * 86400).unwrap()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&b"v"[..]));
    let left = cache.ttl(&key).await.unwrap().unwrap();
    assert!(left > Duration::from_secs(89 * 86400), "{left:?}");
}
