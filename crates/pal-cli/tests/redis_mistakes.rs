//! Mistakes an operator makes with Redis, met through `pal check` and `pal cache`
//! against the real servers: each message says what is wrong and what to set,
//! instead of the driver's report (a pipeline dump, `Moved: …`, a reset, a timeout).

mod support;

use std::time::Duration;

use support::{KEYS, pal, port, text, tls_file, unique};

fn vars<'a>(cache: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![("CACHE_PROVIDER", cache), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")];
    vars.extend_from_slice(extra);
    vars.extend(KEYS);
    vars
}

#[test]
fn a_counter_that_would_overflow_is_named_on_every_provider() {
    let redis = format!("redis://127.0.0.1:{}", port("REDIS_PORT"));
    let memcached = format!("127.0.0.1:{}", port("MEMCACHED_PORT"));
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hybrid.db").display());
    let cases = [
        (vars("redis", &[("REDIS_URL", &redis)]), "would overflow: adding 1 passes 9223372036854775807"),
        (
            vec![
                ("CACHE_PROVIDER", "redis-hybrid"),
                ("REDIS_URL", &redis),
                ("DB_PROVIDER", "sqlite"),
                ("DATABASE_URL", &db),
                KEYS[0],
                KEYS[1],
            ],
            "would overflow: adding 1 passes 9223372036854775807",
        ),
        // memcached counts past the top itself: pal says so.
        (vars("memcached", &[("MEMCACHED_SERVERS", &memcached)]), "overflowed: memcached counted past"),
    ];
    for (vars, said) in cases {
        let key = unique("top");
        let (out, _) = pal(&vars, &["cache", "incr", &key, "--by", &i64::MAX.to_string(), "--ttl", "60"]);
        assert!(out.status.success(), "{}", text(&out));
        let (out, _) = pal(&vars, &["cache", "incr", &key, "--ttl", "60"]);
        let message = text(&out);
        assert_eq!(out.status.code(), Some(3), "{message}");
        assert!(message.contains(&format!("not an integer: counter {key:?} {said}")), "{message}");
        assert!(!message.contains("Pipeline"), "{message}");
    }
}

/// A standalone `REDIS_URL` naming a node of the cluster on `CLUSTER_PORTS`.
#[test]
fn a_cluster_node_given_as_a_standalone_server_says_to_enable_cluster_mode() {
    let node = format!("redis://127.0.0.1:{}", port("CLUSTER_PORTS").split_whitespace().next().unwrap());
    let vars = vars("redis", &[("REDIS_URL", &node)]);
    let (out, _) = pal(&vars, &["check"]);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("DOWN") && report.contains("this Redis is a Cluster node"), "{report}");
    // Keys of the node's own slots work; the others are a configuration error,
    // never `Moved: …`.
    let refused: Vec<String> = (0..12)
        .map(|i| pal(&vars, &["cache", "get", &format!("{}:{i}", unique("slot"))]).0)
        .filter(|out| out.status.code() == Some(2))
        .map(|out| text(&out))
        .collect();
    assert!(!refused.is_empty(), "some of 12 keys belong to other nodes");
    for message in refused {
        assert!(
            message.contains("this Redis is a Cluster node (it answered MOVED")
                && message.contains("set REDIS_CLUSTER_ENABLED=true")
                && message.contains("REDIS_CLUSTER_NODES")
                && !message.contains("Moved:"),
            "{message}"
        );
    }
}

#[test]
fn redis_url_to_a_tls_port_says_to_use_rediss() {
    let url = format!("redis://127.0.0.1:{}", port("REDIS_TLS_PORT"));
    let vars = vars("redis", &[("REDIS_URL", &url)]);
    let said = "speaks TLS, but the URL says redis://: use rediss://";
    let (out, _) = pal(&vars, &["cache", "get", "k"]);
    assert_eq!(out.status.code(), Some(2), "a configuration error: {}", text(&out));
    assert!(text(&out).contains(said), "{}", text(&out));
    let (out, _) = pal(&vars, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(said), "{}", text(&out));
}

/// The plaintext server never answers a TLS handshake, so the driver alone waits
/// out the whole connect timeout (2 s by default) and says "timeout".
#[test]
fn rediss_url_to_a_plaintext_port_says_to_use_redis_at_once() {
    let url = format!("rediss://127.0.0.1:{}", port("REDIS_PORT"));
    let ca = tls_file("ca.pem");
    let vars = vars("redis", &[("REDIS_URL", &url), ("REDIS_TLS_CA_FILE", &ca)]);
    let said = "answered in plaintext, but the URL says rediss://: use redis://";
    let (out, took) = pal(&vars, &["cache", "get", "k"]);
    assert_eq!(out.status.code(), Some(2), "a configuration error: {}", text(&out));
    assert!(text(&out).contains(said), "{}", text(&out));
    assert!(took < Duration::from_millis(1500), "took {took:?}, close to the 2 s connect timeout");
    let (out, _) = pal(&vars, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(said), "{}", text(&out));
}
