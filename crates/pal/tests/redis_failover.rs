//! Failover with real processes killed: a Sentinel master and a Cluster master
//! are SIGKILLed under load, and writes must resume on the promoted replica with
//! no restart of the application. Killed nodes are started again afterwards
//! (they rejoin as replicas), so the harness is whole for the next run.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pal::factory::build_cache;
use pal::{CacheService, Settings, Ttl};
use tokio::sync::Mutex;

/// What one writer saw: when each call started, and whether it succeeded.
type Log = Arc<Mutex<Vec<(Instant, bool)>>>;

fn writers(
    cache: &Arc<dyn CacheService>,
    prefix: &str,
    tasks: usize,
    stop: &Arc<AtomicBool>,
    log: &Log,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..tasks)
        .map(|t| {
            let (cache, stop, log, prefix) = (cache.clone(), stop.clone(), log.clone(), prefix.to_string());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let key = format!("{prefix}{t}:{i}");
                    let result = cache.set(&key, Bytes::from(i.to_string()), Ttl::from_secs(120).unwrap()).await;
                    if let Err(e) = &result
                        && std::env::var("PAL_DEBUG_FAILOVER").is_ok()
                    {
                        eprintln!("{prefix} {:?} {e}", started.elapsed());
                    }
                    let ok = result.is_ok();
                    log.lock().await.push((started, ok));
                    i += 1;
                    if !ok {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect()
}

async fn stop_writers(stop: &AtomicBool, handles: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }
}

/// The error window after `since`: from the first failure to the first success that
/// is followed by no further failure.
async fn error_window(log: &Log, since: Instant) -> (Option<Duration>, Option<Duration>, usize) {
    let log = log.lock().await;
    let after: Vec<_> = log.iter().filter(|(t, _)| *t >= since).collect();
    let failures = after.iter().filter(|(_, ok)| !ok).count();
    let first_error = after.iter().filter(|(_, ok)| !ok).map(|(t, _)| *t - since).min();
    let last_error = after.iter().filter(|(_, ok)| !ok).map(|(t, _)| *t).max();
    let resumed = match last_error {
        None => after.iter().find(|(_, ok)| *ok).map(|(t, _)| *t - since),
        Some(last) => after.iter().filter(|(t, ok)| *ok && *t > last).map(|(t, _)| *t - since).min(),
    };
    (first_error, resumed, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover_under_load() {
    support::ensure("sentinel");
    let _restore = support::Restore("sentinel");
    let sentinels = support::port_list("SENTINEL_PORTS");
    let master_name = support::port("SENTINEL_MASTER_NAME");
    let nodes: Vec<String> = sentinels.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let settings = Settings::from_vars(support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_SENTINEL_ENABLED", "true"),
        ("REDIS_SENTINEL_MASTER", master_name.as_str()),
        ("REDIS_SENTINEL_NODES", &nodes.join(",")),
        ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ("REDIS_COMMAND_TIMEOUT_MS", "500"),
    ]))
    .unwrap();
    let cache = build_cache(&settings).await.unwrap();
    let (stop, log): (_, Log) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let prefix = format!("failover:{}:", uuid::Uuid::new_v4().simple());
    let handles = writers(&cache, &prefix, 20, &stop, &log);
    tokio::time::sleep(Duration::from_millis(800)).await;

    let mut sentinel = support::node(&sentinels[0]).await;
    let addr: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(&master_name)
        .query_async(&mut sentinel)
        .await
        .unwrap();
    let old_master = addr[1].clone();
    support::kill_redis(&old_master).await;
    let killed_at = Instant::now();

    // down-after-milliseconds is 1000; allow it plus 3 s, then a little to observe.
    let limit = Duration::from_millis(1000 + 3000);
    support::eventually(limit + Duration::from_secs(2), || async {
        error_window(&log, killed_at).await.1.is_some_and(|r| r > Duration::ZERO)
            && killed_at.elapsed() > Duration::from_secs(1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_writers(&stop, handles).await;
    let (first_error, resumed, failures) = error_window(&log, killed_at).await;
    eprintln!(
        "sentinel failover: first error {first_error:?}, writes resumed {resumed:?} after the kill, {failures} failed calls"
    );
    let resumed = resumed.expect("writes never resumed after the master was killed");
    assert!(resumed <= limit, "writes resumed only after {resumed:?} (limit {limit:?})");

    let addr: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(&master_name)
        .query_async(&mut sentinel)
        .await
        .unwrap();
    assert_ne!(addr[1], old_master, "the sentinels promoted the replica");
    // Writes acknowledged after the failover are readable from the new master.
    let ok_after: usize = log.lock().await.iter().filter(|(t, ok)| *ok && *t > killed_at + resumed).count();
    assert!(ok_after > 0);
    cache.set(&format!("{prefix}probe"), Bytes::from_static(b"after"), Ttl::from_secs(60).unwrap()).await.unwrap();
    assert_eq!(cache.get(&format!("{prefix}probe")).await.unwrap().as_deref(), Some(&b"after"[..]));
}

/// The port of the master serving `key`'s slot, as the first live node sees it;
/// `None` while no healthy master serves it (mid-failover).
async fn master_of(key: &str) -> Option<String> {
    let mut live = None;
    for port in support::port_list("CLUSTER_PORTS") {
        if let Ok(conn) = support::try_node(&port).await {
            live = Some(conn);
            break;
        }
    }
    let mut conn = live.expect("a live cluster node");
    let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query_async(&mut conn).await.unwrap();
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query_async(&mut conn).await.unwrap();
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !fields[2].contains("master") || fields[2].contains("fail") {
            continue;
        }
        for range in &fields[8..] {
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>())
                && (lo..=hi).contains(&slot)
            {
                return fields[1].split('@').next().and_then(|a| a.rsplit(':').next()).map(str::to_string);
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_failover_keeps_other_masters_working() {
    support::ensure("cluster");
    let _restore = support::Restore("cluster");
    let nodes: Vec<String> = support::port_list("CLUSTER_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let settings = Settings::from_vars([
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_CLUSTER_ENABLED", "true"),
        ("REDIS_CLUSTER_NODES", &nodes.join(",")),
        ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ("REDIS_COMMAND_TIMEOUT_MS", "500"),
        // Plaintext: the test pins keys to slots with hash tags, which sealing hashes away.
        ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
    ])
    .unwrap();
    let cache = build_cache(&settings).await.unwrap();
    // Hash tags pin each group of keys to one slot: one on the victim, one elsewhere.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let victim_tag = format!("{{v{run}}}");
    let victim = master_of(&victim_tag).await.expect("the cluster is healthy");
    let mut other_tag = None;
    for i in 0..64 {
        let tag = format!("{{o{run}{i}}}");
        if master_of(&tag).await.is_some_and(|m| m != victim) {
            other_tag = Some(tag);
            break;
        }
    }
    let other_tag = other_tag.expect("a slot on another master");

    let stop = Arc::new(AtomicBool::new(false));
    let (victim_log, other_log): (Log, Log) = (Arc::default(), Arc::default());
    let mut handles = writers(&cache, &format!("{victim_tag}:"), 10, &stop, &victim_log);
    handles.extend(writers(&cache, &format!("{other_tag}:"), 10, &stop, &other_log));
    tokio::time::sleep(Duration::from_millis(800)).await;

    support::kill_redis(&victim).await;
    let killed_at = Instant::now();
    // cluster-node-timeout is 2000 ms and the election adds about a second; the rest
    // is headroom for a loaded machine (promotion is the server's work, not pal's).
    let limit = Duration::from_secs(20);
    support::eventually(limit, || async { master_of(&victim_tag).await.is_some_and(|m| m != victim) })
        .await
        .expect("the replica took over");
    support::eventually(Duration::from_secs(5), || async {
        error_window(&victim_log, killed_at)
            .await
            .1
            .is_some_and(|r| killed_at + r + Duration::from_millis(300) < Instant::now())
    })
    .await;
    stop_writers(&stop, handles).await;
    let (first_error, resumed, failures) = error_window(&victim_log, killed_at).await;
    eprintln!(
        "cluster failover: victim slot first error {first_error:?}, resumed {resumed:?}, {failures} failed calls"
    );
    let resumed = resumed.expect("operations on the killed master's slots never resumed");
    assert!(resumed <= limit, "resumed only after {resumed:?}");
    let (_, _, other_failures) = error_window(&other_log, killed_at).await;
    let other_ok = other_log.lock().await.iter().filter(|(t, ok)| *ok && *t >= killed_at).count();
    eprintln!(
        "cluster failover: other master: {other_ok} successful writes, {other_failures} failures during the failover"
    );
    assert_eq!(other_failures, 0, "keys on other masters must keep working throughout");
    assert!(other_ok > 0);
}
