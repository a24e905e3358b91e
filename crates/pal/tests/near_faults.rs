//! The near cache when its server fails: its tracking connection killed, the
//! server restarted empty, hung (SIGSTOP), failed over by Sentinel while hung,
//! and redis-hybrid writing to its database during an outage. In each case the
//! near cache never serves a value the server no longer holds once the failure
//! is seen, and serves again once tracking is back.

mod suite;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pal::cache::near::NearCache;
use pal::factory::build_cache_with_near;
use pal::{CacheService, Settings, Ttl};
use support::near::{cached, tracking};

fn ttl(secs: u64) -> Ttl {
    Ttl::from_secs(secs).unwrap()
}

async fn build(vars: &[(&str, &str)]) -> (Arc<dyn CacheService>, Option<Arc<NearCache>>) {
    let mut all = vec![("DB_PROVIDER", "sqlite"), ("CACHE_INSECURE_NO_ENCRYPTION", "true")];
    all.extend_from_slice(vars);
    build_cache_with_near(&Settings::from_vars(all).unwrap()).await.unwrap()
}

/// Resumes a stopped server however the test ends.
struct Continue(u32);

impl Drop for Continue {
    fn drop(&mut self) {
        support::signal(self.0, "CONT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_tracking_connection_drops_everything_and_tracks_again() {
    let prefix = support::run_prefix("nearkill:");
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let vars = [("CACHE_PROVIDER", "redis"), ("REDIS_URL", url.as_str()), ("CACHE_KEY_PREFIX", prefix.as_str())];
    let (a, _) = build(&vars).await;
    let (b, near) = build(&[&vars[..], &[("CACHE_NEAR_MAX_BYTES", "1048576")]].concat()).await;
    let near = near.unwrap();
    tracking(&near, 0).await;
    for trial in 0..20u8 {
        a.set("k", Bytes::from(vec![trial]), ttl(60)).await.unwrap();
        cached(b.as_ref(), &near, "k", &[trial]).await;
        let before = near.stats();
        let mut admin = support::node(&support::port("REDIS_PORT")).await;
        for (_, id) in &before.clients {
            let _: () = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query_async(&mut admin).await.unwrap();
        }
        a.set("k", Bytes::from(vec![trial + 100]), ttl(60)).await.unwrap();
        tracking(&near, before.rounds).await;
        assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&[trial + 100][..]), "trial {trial}");
        let after = near.stats();
        let dropped =
            |s: &pal::cache::near::NearStats| s.invalidations.iter().find(|(c, _)| *c == "connection").unwrap().1;
        assert!(dropped(&after) > dropped(&before), "{after:?}");
    }
    a.delete("k").await.unwrap();
}

/// The fault-test Redis, held for one test and restored after it, and a cache
/// with a near cache on it (default timeouts) that holds `key` in memory.
struct OnFaultRedis {
    // Dropped in this order: the server restored, then released to other tests.
    _restore: support::Restore,
    _exclusive: support::Exclusive,
    port: String,
    cache: Arc<dyn CacheService>,
    near: Arc<NearCache>,
    /// The tracking rounds begun once `key` was held.
    rounds: u64,
}

async fn on_fault_redis(key: &str, value: &'static [u8]) -> OnFaultRedis {
    let exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let restore = support::Restore("redis");
    let port = support::port("REDIS_FAULT_PORT");
    let url = format!("redis://127.0.0.1:{port}");
    let (cache, near) =
        build(&[("CACHE_PROVIDER", "redis"), ("REDIS_URL", &url), ("CACHE_NEAR_MAX_BYTES", "1048576")]).await;
    let near = near.unwrap();
    tracking(&near, 0).await;
    cache.set(key, Bytes::from_static(value), ttl(60)).await.unwrap();
    cached(cache.as_ref(), &near, key, value).await;
    let rounds = near.stats().rounds;
    OnFaultRedis { _restore: restore, _exclusive: exclusive, port, cache, near, rounds }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_empty_is_never_shadowed() {
    let fixture = on_fault_redis("gone", b"v").await;
    let (b, near, port, rounds) = (&fixture.cache, &fixture.near, &fixture.port, fixture.rounds);
    support::kill_redis(port).await;
    support::ensure("redis");
    tracking(near, rounds).await;
    // The data connection finds out about the restart at its next call, which may fail.
    let answered = support::eventually(Duration::from_secs(5), || async {
        match b.get("gone").await {
            Ok(v) => {
                assert_eq!(v, None, "the restarted server holds nothing");
                true
            }
            Err(_) => false,
        }
    })
    .await;
    assert!(answered.is_some(), "the cache answers again after the restart");
    // And it serves from memory again.
    b.set("back", Bytes::from_static(b"w"), ttl(60)).await.unwrap();
    cached(b.as_ref(), near, "back", b"w").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_stops_the_near_cache_within_heartbeat_and_command_timeout() {
    // Default timeouts: the bound operators meet (REDIS_COMMAND_TIMEOUT_MS=1000).
    let fixture = on_fault_redis("hang", b"v").await;
    let (b, near, port, rounds) = (&fixture.cache, &fixture.near, &fixture.port, fixture.rounds);
    let resume = Continue(support::pid_of(port));
    support::signal(resume.0, "STOP");
    let stopped = Instant::now();
    let stopped_serving = support::eventually(Duration::from_secs(5), || async { !near.stats().active })
        .await
        .expect("the near cache stops serving while the server hangs");
    // HEARTBEAT (500 ms) + REDIS_COMMAND_TIMEOUT_MS (1000 ms), and scheduling slack.
    let bound = Duration::from_millis(500 + 1000 + 500);
    eprintln!("near cache: stopped serving {stopped_serving:?} after the server hung (bound {bound:?})");
    assert!(stopped.elapsed() < bound + Duration::from_millis(100), "took {:?}", stopped.elapsed());
    let err = b.get("hang").await.unwrap_err();
    assert!(matches!(err.kind(), pal::ErrorKind::Timeout | pal::ErrorKind::Connection), "{err}");
    drop(resume);
    tracking(near, rounds).await;
    cached(b.as_ref(), near, "hang", b"v").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover_of_a_hung_master_is_never_shadowed() {
    support::ensure("sentinel");
    let _restore = support::Restore("sentinel");
    let sentinels = support::port_list("SENTINEL_PORTS");
    let master_name = support::port("SENTINEL_MASTER_NAME");
    let nodes: Vec<String> = sentinels.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let nodes = nodes.join(",");
    let prefix = support::run_prefix("nearfail:");
    let vars = [
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_SENTINEL_ENABLED", "true"),
        ("REDIS_SENTINEL_MASTER", master_name.as_str()),
        ("REDIS_SENTINEL_NODES", nodes.as_str()),
        ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ("REDIS_COMMAND_TIMEOUT_MS", "500"),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
    ];
    let (a, _) = build(&vars).await;
    let (b, near) = build(&[&vars[..], &[("CACHE_NEAR_MAX_BYTES", "1048576")]].concat()).await;
    let near = near.unwrap();
    tracking(&near, 0).await;
    a.set("k", Bytes::from_static(b"before"), ttl(60)).await.unwrap();
    cached(b.as_ref(), &near, "k", b"before").await;
    let rounds = near.stats().rounds;

    let mut sentinel = support::node(&sentinels[0]).await;
    let addr: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(&master_name)
        .query_async(&mut sentinel)
        .await
        .unwrap();
    let old_master = addr[1].clone();
    let resume = Continue(support::pid_of(&old_master));
    support::signal(resume.0, "STOP");
    let stopped = Instant::now();

    // A writes through whichever master the sentinels name, once one answers.
    let written = support::eventually(Duration::from_secs(20), || async {
        a.set("k", Bytes::from_static(b"after"), ttl(60)).await.is_ok()
    })
    .await
    .expect("writes resume after the failover");
    let acked = Instant::now();
    eprintln!("near cache, sentinel failover: A's write acknowledged {written:?} after the master hung");
    let new: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(&master_name)
        .query_async(&mut sentinel)
        .await
        .unwrap();
    assert_ne!(new[1], old_master, "the sentinels promoted the replica");
    // From A's acknowledgement on, B answers the new value or an error, never the old one.
    let mut stale = 0;
    let mut fresh_at = None;
    while acked.elapsed() < Duration::from_secs(10) {
        match b.get("k").await {
            Ok(Some(v)) if &v[..] == b"before" => stale += 1,
            Ok(Some(v)) if &v[..] == b"after" => {
                fresh_at.get_or_insert(acked.elapsed());
                if near.stats().rounds > rounds && near.stats().active {
                    break;
                }
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "near cache, sentinel failover: old value served {stale} times after A's write; new value from {fresh_at:?}; \
         stopped {:?} ago",
        stopped.elapsed()
    );
    assert_eq!(stale, 0, "B served the old master's value after the failover");
    tracking(&near, rounds).await;
    cached(b.as_ref(), &near, "k", b"after").await;
    drop(resume);
    a.delete("k").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hybrid_write_during_an_outage_is_never_shadowed() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let (db_url, _teardown) = suite::servers::fresh_postgres_schema().await;
    suite::hybrid::migrated(&db_url).await;
    let port = support::port("REDIS_FAULT_PORT");
    let url = format!("redis://127.0.0.1:{port}");
    let vars = [
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", url.as_str()),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", db_url.as_str()),
        ("REDIS_CONNECT_TIMEOUT_MS", "300"),
        ("REDIS_COMMAND_TIMEOUT_MS", "300"),
        ("CACHE_BREAKER_COOLDOWN_MS", "500"),
        ("CACHE_JOURNAL_DRAIN_INTERVAL_MS", "500"),
        ("CACHE_NEAR_MAX_BYTES", "1048576"),
    ];
    let (a, _) = build(&vars).await;
    let (b, near) = build(&vars).await;
    let near = near.unwrap();
    tracking(&near, 0).await;
    a.set("k", Bytes::from_static(b"before"), ttl(60)).await.unwrap();
    cached(b.as_ref(), &near, "k", b"before").await;
    let rounds = near.stats().rounds;

    support::kill_redis(&port).await;
    a.set("k", Bytes::from_static(b"during"), ttl(60)).await.expect("the database takes the write");
    // During the outage and after it, B answers the database's value, never its near entry.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(v) = b.get("k").await {
            assert_eq!(v.as_deref(), Some(&b"during"[..]), "B's near entry shadowed the database's write");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    support::ensure("redis");
    // B's breaker closes at a call after its cooldown; until then the database serves.
    let back = support::eventually(Duration::from_secs(20), || async {
        if let Ok(v) = b.get("k").await {
            assert_eq!(v.as_deref(), Some(&b"during"[..]), "B's near entry shadowed the database's write");
        }
        let stats = near.stats();
        stats.active && stats.rounds > rounds
    })
    .await;
    assert!(back.is_some(), "the near cache serves again after Redis is back: {:?}", near.stats());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"during"[..]));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = near.stats();
    eprintln!("near cache over redis-hybrid after an outage: {stats:?}");
    assert!(stats.invalidations.iter().any(|(c, n)| (*c == "breaker" || *c == "connection") && *n > 0), "{stats:?}");
}
