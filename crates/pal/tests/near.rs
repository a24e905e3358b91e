//! The near cache against a real Redis: what another instance, `redis-cli`, a
//! delete, a new TTL and expiry on the server change is seen within a measured
//! window, and never the old value afterwards; the byte bound holds. Two caches
//! built in one test process have their own connections, trackers and memory,
//! as two processes would. Faults are in `near_faults.rs`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pal::cache::near::NearCache;
use pal::factory::build_cache_with_near;
use pal::{CacheService, Settings, Ttl};
use support::near::{cached, tracking};

/// Trials of the coherence window with another pal instance writing.
const TRIALS: usize = 1000;
/// Trials with `redis-cli` writing (each starts a process).
const CLI_TRIALS: usize = 100;
/// The window asserted for every trial: far above what is measured on loopback
/// (well under a millisecond), so a loaded machine's scheduling does not fail it.
const WINDOW: Duration = Duration::from_millis(250);

fn redis_url() -> String {
    format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"))
}

fn ttl(secs: u64) -> Ttl {
    Ttl::from_secs(secs).unwrap()
}

/// A cache on the test Redis, configured by `vars` too.
async fn cache(vars: &[(&str, &str)], near: bool) -> (Arc<dyn CacheService>, Option<Arc<NearCache>>) {
    let url = redis_url();
    let mut all = vec![("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite"), ("REDIS_URL", url.as_str())];
    all.extend_from_slice(vars);
    built(&all, near).await
}

/// The cache `vars` configure, with a near cache (tracking already) when `near`.
async fn built(vars: &[(&str, &str)], near: bool) -> (Arc<dyn CacheService>, Option<Arc<NearCache>>) {
    let mut all = vars.to_vec();
    if near {
        all.push(("CACHE_NEAR_MAX_BYTES", "8388608"));
    }
    let (cache, handle) = build_cache_with_near(&Settings::from_vars(all).unwrap()).await.unwrap();
    if let Some(handle) = &handle {
        tracking(handle, 0).await;
    }
    (cache, handle)
}

/// Reads `key` through `b` until it is `new`, failing on anything but `old` on
/// the way; returns how long after `acked` that took, then checks it stays `new`.
async fn window(b: &dyn CacheService, key: &str, old: Option<&[u8]>, new: Option<&[u8]>, acked: Instant) -> Duration {
    loop {
        let got = b.get(key).await.unwrap();
        if got.as_deref() == new {
            let seen = acked.elapsed();
            for _ in 0..3 {
                assert_eq!(b.get(key).await.unwrap().as_deref(), new, "{key}: the old value came back");
            }
            return seen;
        }
        assert_eq!(got.as_deref(), old, "{key}: neither the old nor the new value");
        assert!(acked.elapsed() < Duration::from_secs(5), "{key}: the change was never seen");
    }
}

fn report(what: &str, windows: &mut [Duration]) -> Duration {
    windows.sort();
    let at = |q: f64| windows[((windows.len() as f64 * q).ceil() as usize).clamp(1, windows.len()) - 1];
    let (p50, p99, max) = (at(0.50), at(0.99), windows[windows.len() - 1]);
    eprintln!("near cache, {what}: {} trials, p50 {p50:?}, p99 {p99:?}, max {max:?}", windows.len());
    for (i, w) in windows.iter().enumerate() {
        assert!(*w <= WINDOW, "{what}: trial {i} saw the change after {w:?} (bound {WINDOW:?})");
    }
    p99
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instances_writes_are_seen_within_the_window() {
    let prefix = support::run_prefix("near:");
    let vars = support::sealed(&[("CACHE_KEY_PREFIX", prefix.as_str())]);
    let (a, _) = cache(&vars, true).await;
    let (b, near) = cache(&vars, true).await;
    let near = near.unwrap();
    let key = "session";
    let value = |i: usize| format!("v{i}").into_bytes();
    let mut windows = Vec::with_capacity(TRIALS);
    a.set(key, Bytes::from(value(0)), ttl(60)).await.unwrap();
    for i in 0..TRIALS {
        cached(b.as_ref(), &near, key, &value(i)).await;
        a.set(key, Bytes::from(value(i + 1)), ttl(60)).await.unwrap();
        let acked = Instant::now();
        windows.push(window(b.as_ref(), key, Some(&value(i)), Some(&value(i + 1)), acked).await);
    }
    report("another instance's SET (sealed)", &mut windows);
    let stats = near.stats();
    assert!(stats.hits >= TRIALS as u64, "{stats:?}");
    assert!(stats.invalidations.iter().any(|(cause, n)| *cause == "server" && *n >= TRIALS as u64 / 2), "{stats:?}");
    a.delete(key).await.unwrap();
    let url = redis_url();
    let record =
        [("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite"), ("REDIS_URL", &url), ("CACHE_KEY_PREFIX", &prefix)];
    support::forget_key_record(&record).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_are_seen_before_they_return() {
    let prefix = support::run_prefix("near:");
    let vars = [("CACHE_KEY_PREFIX", prefix.as_str()), ("CACHE_INSECURE_NO_ENCRYPTION", "true")];
    let (b, near) = cache(&vars, true).await;
    let near = near.unwrap();
    for i in 0..200u64 {
        let v = i.to_string();
        b.set("k", Bytes::from(v.clone()), ttl(60)).await.unwrap();
        assert_eq!(b.get("k").await.unwrap().as_deref(), Some(v.as_bytes()));
        cached(b.as_ref(), &near, "k", v.as_bytes()).await;
    }
    cached(b.as_ref(), &near, "k", b"199").await;
    assert_eq!(b.incr("k", 1, ttl(60)).await.unwrap(), 200);
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"200"[..]));
    cached(b.as_ref(), &near, "k", b"200").await;
    assert!(b.touch("k", Ttl::from_millis(300).unwrap()).await.unwrap());
    cached(b.as_ref(), &near, "k", b"200").await;
    assert!(b.ttl("k").await.unwrap().unwrap() <= Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.get("k").await.unwrap(), None, "the entry lives no longer than the key's new TTL");
    b.set("k", Bytes::from_static(b"x"), ttl(60)).await.unwrap();
    cached(b.as_ref(), &near, "k", b"x").await;
    assert!(b.delete("k").await.unwrap());
    assert_eq!(b.get("k").await.unwrap(), None);
    assert!(b.add("k", Bytes::from_static(b"y"), ttl(60)).await.unwrap());
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"y"[..]));
    b.delete("k").await.unwrap();
}

/// `redis-cli` against the test Redis, on the key as the server names it.
fn redis_cli(args: &[&str]) {
    let port = support::port("REDIS_PORT");
    let out = std::process::Command::new("redis-cli").args(["-p", &port]).args(args).output().expect("redis-cli runs");
    assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_set_del_and_expire_are_seen_within_the_window() {
    let prefix = support::run_prefix("near:");
    let vars = [("CACHE_KEY_PREFIX", prefix.as_str()), ("CACHE_INSECURE_NO_ENCRYPTION", "true")];
    let (b, near) = cache(&vars, true).await;
    let near = near.unwrap();
    let key = "flag";
    let server_key = format!("{prefix}{key}");
    let (mut sets, mut dels, mut expires) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..CLI_TRIALS {
        let (old, new) = (format!("a{i}"), format!("b{i}"));
        b.set(key, Bytes::from(old.clone()), ttl(60)).await.unwrap();
        cached(b.as_ref(), &near, key, old.as_bytes()).await;
        redis_cli(&["SET", &server_key, &new]);
        sets.push(window(b.as_ref(), key, Some(old.as_bytes()), Some(new.as_bytes()), Instant::now()).await);

        cached(b.as_ref(), &near, key, new.as_bytes()).await;
        redis_cli(&["DEL", &server_key]);
        dels.push(window(b.as_ref(), key, Some(new.as_bytes()), None, Instant::now()).await);

        b.set(key, Bytes::from(old.clone()), ttl(60)).await.unwrap();
        cached(b.as_ref(), &near, key, old.as_bytes()).await;
        redis_cli(&["EXPIRE", &server_key, "0"]);
        expires.push(window(b.as_ref(), key, Some(old.as_bytes()), None, Instant::now()).await);
    }
    report("redis-cli SET", &mut sets);
    report("redis-cli DEL", &mut dels);
    report("redis-cli EXPIRE 0", &mut expires);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_expiring_on_the_server_is_gone_from_the_near_cache() {
    let prefix = support::run_prefix("near:");
    let vars = [("CACHE_KEY_PREFIX", prefix.as_str()), ("CACHE_INSECURE_NO_ENCRYPTION", "true")];
    let (a, _) = cache(&vars, false).await;
    let (b, near) = cache(&vars, true).await;
    let near = near.unwrap();
    let mut windows = Vec::new();
    for i in 0..50 {
        let key = format!("short{i}");
        a.set(&key, Bytes::from_static(b"v"), Ttl::from_millis(150).unwrap()).await.unwrap();
        let written = Instant::now();
        cached(b.as_ref(), &near, &key, b"v").await;
        // A TTL set behind pal's back, by PEXPIRE, counts too.
        redis_cli(&["PEXPIRE", &format!("{prefix}{key}"), "100"]);
        let changed = Instant::now();
        loop {
            let got = b.get(&key).await.unwrap();
            if got.is_none() {
                windows.push(changed.elapsed().saturating_sub(Duration::from_millis(100)));
                break;
            }
            assert!(
                written.elapsed() < Duration::from_millis(150) + WINDOW,
                "{key} outlived its TTL in the near cache"
            );
        }
        assert_eq!(b.get(&key).await.unwrap(), None);
    }
    report("expiry on the server (after the TTL)", &mut windows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_far_beyond_the_bound_keep_memory_bounded() {
    let prefix = support::run_prefix("near:");
    let url = redis_url();
    let settings = Settings::from_vars([
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_URL", url.as_str()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
        ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
        ("CACHE_NEAR_MAX_BYTES", "1048576"),
    ])
    .unwrap();
    let (cache, near) = build_cache_with_near(&settings).await.unwrap();
    let near = near.unwrap();
    tracking(&near, 0).await;
    let rss = || {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
    };
    let value = Bytes::from(vec![b'x'; 4096]);
    let keys: Vec<String> = (0..4096).map(|i| format!("big{i}")).collect();
    // 16 MiB written and read once, then again: 32 times the bound passes through.
    let fill = |round: usize| {
        let cache = cache.clone();
        let keys = keys.clone();
        let value = value.clone();
        async move {
            for chunk in keys.chunks(256) {
                let entries: Vec<(&str, Bytes)> = chunk.iter().map(|k| (k.as_str(), value.clone())).collect();
                cache.set_many(&entries, ttl(60)).await.unwrap();
                for k in chunk {
                    assert_eq!(cache.get(k).await.unwrap().map(|v| v.len()), Some(4096), "round {round}");
                    cache.get(k).await.unwrap();
                }
            }
        }
    };
    fill(0).await;
    let after_first = rss();
    for round in 1..4 {
        fill(round).await;
    }
    let after_all = rss();
    let stats = near.stats();
    eprintln!("near cache bound 1 MiB: {stats:?}; resident {after_first} then {after_all} bytes");
    assert!(stats.bytes <= 1 << 20, "{stats:?}");
    assert!(stats.hits > 0);
    assert!(
        after_all <= after_first + (8 << 20),
        "resident memory grew from {after_first} to {after_all} while the same keys were rewritten"
    );
    cache.delete_many(&keys.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_keeps_every_masters_keys_coherent() {
    support::ensure("cluster");
    let nodes: Vec<String> = support::port_list("CLUSTER_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let prefix = support::run_prefix("near:");
    let vars = [
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_CLUSTER_ENABLED", "true"),
        ("REDIS_CLUSTER_NODES", &nodes.join(",")),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
        ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
    ];
    let (a, _) = built(&vars, false).await;
    let (b, near) = built(&vars, true).await;
    let near = near.unwrap();
    assert_eq!(near.stats().clients.len(), 3, "one tracking connection per master: {:?}", near.stats());
    // Keys spread over the three masters' slots.
    let keys: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
    let mut windows = Vec::new();
    for round in 0..5u8 {
        for key in &keys {
            a.set(key, Bytes::from(vec![round]), ttl(60)).await.unwrap();
            cached(b.as_ref(), &near, key, &[round]).await;
        }
        for key in &keys {
            a.set(key, Bytes::from(vec![round + 100]), ttl(60)).await.unwrap();
            windows.push(window(b.as_ref(), key, Some(&[round]), Some(&[round + 100]), Instant::now()).await);
        }
    }
    report("cluster, another instance's SET", &mut windows);
    a.delete_many(&keys.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_of_one_key_each_see_the_others_writes() {
    let prefix = support::run_prefix("near:");
    let vars = [("CACHE_KEY_PREFIX", prefix.as_str()), ("CACHE_INSECURE_NO_ENCRYPTION", "true")];
    let (a, _) = cache(&vars, true).await;
    let (b, _) = cache(&vars, true).await;
    let (plain, _) = cache(&vars, false).await;
    // Alternating: each keeps the value it wrote, and drops it when the other writes.
    let mut windows = Vec::new();
    for i in 0..200u32 {
        let (mine, theirs) = (format!("a{i}"), format!("b{i}"));
        a.set("hot", Bytes::from(mine.clone()), ttl(60)).await.unwrap();
        assert_eq!(a.get("hot").await.unwrap().as_deref(), Some(mine.as_bytes()));
        b.set("hot", Bytes::from(theirs.clone()), ttl(60)).await.unwrap();
        windows.push(window(a.as_ref(), "hot", Some(mine.as_bytes()), Some(theirs.as_bytes()), Instant::now()).await);
    }
    report("alternating writers, each keeping its own writes", &mut windows);
    let mut windows = Vec::new();
    // Both at once, for a second: once quiet, both read what the server holds.
    for round in 0..5 {
        let stop = Instant::now() + Duration::from_millis(200);
        let writer = |cache: Arc<dyn CacheService>, tag: &'static str| async move {
            let mut n = 0u64;
            while Instant::now() < stop {
                cache.set("hot", Bytes::from(format!("{tag}{n}")), ttl(60)).await.unwrap();
                cache.get("hot").await.unwrap();
                n += 1;
            }
        };
        tokio::join!(writer(a.clone(), "a"), writer(b.clone(), "b"), writer(a.clone(), "A"), writer(b.clone(), "B"));
        let quiet = Instant::now();
        let held = plain.get("hot").await.unwrap();
        // Each converges on the server's value within the window (invalidations
        // of the last writes may still be on their way), and keeps it.
        for (name, cache) in [("a", &a), ("b", &b)] {
            loop {
                if cache.get("hot").await.unwrap() == held {
                    break;
                }
                assert!(quiet.elapsed() < WINDOW, "round {round}: {name} disagrees with the server after {WINDOW:?}");
            }
            windows.push(quiet.elapsed());
            for _ in 0..3 {
                assert_eq!(cache.get("hot").await.unwrap(), held, "round {round}: {name} went back");
            }
        }
    }
    report("two writers at once, until both agree with the server", &mut windows);
    a.delete("hot").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keydb_on_its_valkey_stand_in_keeps_the_near_cache_coherent() {
    let prefix = support::run_prefix("near:");
    let port = support::port("VALKEY_PORT");
    let vars = [
        ("CACHE_PROVIDER", "keydb"),
        ("DB_PROVIDER", "sqlite"),
        ("KEYDB_HOST", "127.0.0.1"),
        ("KEYDB_PORT", port.as_str()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
        ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
    ];
    let (a, _) = built(&vars, false).await;
    let (b, near) = built(&vars, true).await;
    let near = near.unwrap();
    let mut windows = Vec::new();
    for i in 0..100u32 {
        let (old, new) = (format!("o{i}"), format!("n{i}"));
        a.set("k", Bytes::from(old.clone()), ttl(60)).await.unwrap();
        cached(b.as_ref(), &near, "k", old.as_bytes()).await;
        a.set("k", Bytes::from(new.clone()), ttl(60)).await.unwrap();
        windows.push(window(b.as_ref(), "k", Some(old.as_bytes()), Some(new.as_bytes()), Instant::now()).await);
    }
    report("keydb (Valkey), another instance's SET", &mut windows);
    a.delete("k").await.unwrap();
}
