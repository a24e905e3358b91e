//! Standalone Redis going away, hanging and coming back, and configurations that
//! must fail clearly instead of hanging. Uses the dedicated fault-test server
//! (`REDIS_FAULT_PORT`), never the shared one.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pal::factory::build_cache;
use pal::{CacheService, ErrorKind, Settings, Ttl};

const CONNECT_MS: u64 = 500;
const COMMAND_MS: u64 = 300;

async fn fault_cache() -> Arc<dyn CacheService> {
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_FAULT_PORT"));
    let settings = Settings::from_vars(support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_URL", url.as_str()),
        ("REDIS_CONNECT_TIMEOUT_MS", &CONNECT_MS.to_string()),
        ("REDIS_COMMAND_TIMEOUT_MS", &COMMAND_MS.to_string()),
    ]))
    .unwrap();
    build_cache(&settings).await.unwrap()
}

fn ttl() -> Ttl {
    Ttl::from_secs(60).unwrap()
}

/// The longest any call may take: both timeouts plus scheduling slack.
fn bound() -> Duration {
    Duration::from_millis(CONNECT_MS + COMMAND_MS + 300)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_a_restart_without_rebuilding() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let cache = fault_cache().await;
    cache.set("fault:k", Bytes::from_static(b"v"), ttl()).await.unwrap();
    let port = support::port("REDIS_FAULT_PORT");
    support::signal(support::pid_of(&port), "TERM");
    support::eventually(Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await.is_err()
    })
    .await
    .expect("the server stopped");

    for _ in 0..5 {
        let started = Instant::now();
        let err = cache.get("fault:k").await.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout), "{err}");
        assert!(started.elapsed() < bound(), "a call took {:?} while the server was down", started.elapsed());
    }

    support::ensure("redis");
    let recovered = support::eventually(Duration::from_secs(10), || async {
        cache.set("fault:k2", Bytes::from_static(b"back"), ttl()).await.is_ok()
    })
    .await
    .expect("the adapter reconnects by itself after the server is back");
    eprintln!("recovered {recovered:?} after the restart");
    assert_eq!(cache.get("fault:k2").await.unwrap().as_deref(), Some(&b"back"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_is_a_timeout_not_a_hang() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let cache = fault_cache().await;
    cache.set("hang:k", Bytes::from_static(b"v"), ttl()).await.unwrap();
    let pid = support::pid_of(&support::port("REDIS_FAULT_PORT"));
    support::signal(pid, "STOP");
    struct Continue(u32);
    impl Drop for Continue {
        fn drop(&mut self) {
            support::signal(self.0, "CONT");
        }
    }
    let resume = Continue(pid);

    for _ in 0..3 {
        let started = Instant::now();
        let err = cache.get("hang:k").await.unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Connection), "{err}");
        assert!(took >= Duration::from_millis(COMMAND_MS - 50), "failed before the timeout: {took:?} ({err})");
        assert!(took < bound(), "took {took:?}");
    }

    drop(resume);
    support::eventually(Duration::from_secs(5), || async {
        cache.get("hang:k").await.is_ok_and(|v| v.as_deref() == Some(&b"v"[..]))
    })
    .await
    .expect("calls succeed again after SIGCONT");
}

fn settings(vars: &[(&str, &str)]) -> Result<Settings, pal::error::ConfigErrors> {
    Settings::from_vars(support::sealed(&[&[("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite")], vars].concat()))
}

#[test]
fn empty_or_malformed_cluster_nodes_are_start_up_errors() {
    let err = settings(&[("REDIS_CLUSTER_ENABLED", "true"), ("REDIS_CLUSTER_NODES", "")]).unwrap_err().to_string();
    assert!(err.contains("REDIS_CLUSTER_NODES must be set"), "{err}");
    let nodes = format!("127.0.0.1:{},nonsense:port", support::port_list("CLUSTER_PORTS")[0]);
    let err = settings(&[("REDIS_CLUSTER_ENABLED", "true"), ("REDIS_CLUSTER_NODES", &nodes)]).unwrap_err().to_string();
    assert!(err.contains("REDIS_CLUSTER_NODES") && err.contains("\"port\" is not a number"), "{err}");
    let err = settings(&[("REDIS_CLUSTER_ENABLED", "true"), ("REDIS_CLUSTER_NODES", "redis://:pw@h:1")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a URL") && !err.contains("pw@"), "{err}");
}

/// A topology whose servers are all unreachable: `ping` fails fast and clearly.
async fn unreachable_fails_ping_quickly(vars: &[(&str, &str)]) {
    let s = settings(&[vars, &[("REDIS_CONNECT_TIMEOUT_MS", "500")]].concat()).unwrap();
    let cache = build_cache(&s).await.unwrap();
    let started = Instant::now();
    let err = cache.ping().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout), "{err}");
}

#[tokio::test]
async fn unreachable_cluster_fails_ping_quickly() {
    unreachable_fails_ping_quickly(&[
        ("REDIS_CLUSTER_ENABLED", "true"),
        ("REDIS_CLUSTER_NODES", "127.0.0.1:1,127.0.0.1:2"),
    ])
    .await;
}

#[tokio::test]
async fn unreachable_sentinels_fail_ping_quickly() {
    unreachable_fails_ping_quickly(&[
        ("REDIS_SENTINEL_ENABLED", "true"),
        ("REDIS_SENTINEL_NODES", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"),
    ])
    .await;
}

#[tokio::test]
async fn wrong_master_name_is_reported() {
    let nodes: Vec<String> = support::port_list("SENTINEL_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let s = settings(&[
        ("REDIS_SENTINEL_ENABLED", "true"),
        ("REDIS_SENTINEL_NODES", &nodes.join(",")),
        ("REDIS_SENTINEL_MASTER", "no-such-master"),
    ])
    .unwrap();
    let cache = build_cache(&s).await.unwrap();
    let started = Instant::now();
    let err = cache.ping().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(err.to_string().contains("no-such-master"), "the error names the master it could not find: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_and_reset_through_the_fault_proxy() {
    use support::proxy::{FaultProxy, Mode};
    let target = format!("127.0.0.1:{}", support::port("REDIS_PORT")).parse().unwrap();
    let proxy = FaultProxy::start(target).await;
    let url = proxy.url("redis");
    let s = settings(&[("REDIS_URL", &url), ("REDIS_CONNECT_TIMEOUT_MS", "300"), ("REDIS_COMMAND_TIMEOUT_MS", "300")])
        .unwrap();
    let cache = build_cache(&s).await.unwrap();
    let key = format!("proxy:{}", uuid::Uuid::new_v4().simple());
    cache.set(&key, Bytes::from_static(b"v"), ttl()).await.unwrap();

    proxy.set(Mode::Blackhole);
    for _ in 0..3 {
        let started = Instant::now();
        let err = cache.get(&key).await.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Connection), "{err}");
        assert!(started.elapsed() < Duration::from_millis(900), "took {:?}", started.elapsed());
    }

    proxy.set(Mode::Reset);
    let err = cache.get(&key).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Connection), "{err}");

    proxy.set(Mode::Pass);
    support::eventually(Duration::from_secs(5), || async { cache.get(&key).await.is_ok_and(|v| v.is_some()) })
        .await
        .expect("calls succeed once the network heals");
}
