//! Redis over TLS (`scripts/services`: redis_tls, a Redis whose TLS port speaks
//! only TLS, and a TLS-only sentinel): the cache suite over `rediss://` with the test CA,
//! Sentinel over TLS, wrong CAs refused, never a fallback to plaintext, and
//! mistakes stopped at start-up. Also: memcached TLS is refused at start-up.

#[macro_use]
mod suite;
mod support;

use std::sync::Arc;

use pal::factory::build_cache;
use pal::{CacheService, ErrorKind, Settings, Ttl};
use suite::cache::CacheSubject;

fn file(name: &str) -> String {
    support::root().join(".services/tls").join(name).canonicalize().unwrap().to_str().unwrap().to_string()
}

fn tls_url() -> String {
    format!("rediss://127.0.0.1:{}", support::port("REDIS_TLS_PORT"))
}

fn settings(extra: &[(&str, &str)]) -> Result<Settings, pal::error::ConfigErrors> {
    let mut vars = vec![("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite")];
    vars.extend_from_slice(extra);
    vars.extend(support::SEALING);
    Settings::from_vars(vars)
}

async fn cache(extra: &[(&str, &str)]) -> Arc<dyn CacheService> {
    build_cache(&settings(extra).unwrap_or_else(|e| panic!("{e}"))).await.unwrap()
}

async fn redis_tls() -> CacheSubject {
    let (url, ca) = (tls_url(), file("ca.pem"));
    CacheSubject::new(cache(&[("REDIS_URL", &url), ("REDIS_TLS_CA_FILE", &ca), suite::cache::VALUE_LIMIT]).await)
}

cache_conformance!(redis_tls);

/// The same suite on a Redis Cluster whose nodes and bus speak only TLS.
async fn redis_cluster_tls() -> CacheSubject {
    let nodes: Vec<String> = support::port_list("CLUSTER_TLS_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let (nodes, ca) = (nodes.join(","), file("ca.pem"));
    CacheSubject::new(
        cache(&[
            ("REDIS_CLUSTER_ENABLED", "true"),
            ("REDIS_CLUSTER_NODES", &nodes),
            ("REDIS_URL", "rediss://127.0.0.1"),
            ("REDIS_TLS_CA_FILE", &ca),
            suite::cache::VALUE_LIMIT,
        ])
        .await,
    )
}

mod cluster {
    use super::*;
    cache_conformance!(redis_cluster_tls);

    #[tokio::test]
    async fn every_node_is_reached_over_verified_tls() {
        let subject = redis_cluster_tls().await;
        // Keys spread over all three masters' slots.
        for i in 0..30 {
            let key = format!("tls:cluster:{i}");
            subject.cache.set(&key, i.to_string().into(), Ttl::from_secs(60).unwrap()).await.unwrap();
            assert_eq!(subject.cache.get(&key).await.unwrap().as_deref(), Some(i.to_string().as_bytes()));
        }
        let transport = subject.cache.transport().await.unwrap().to_string();
        assert!(transport.starts_with("tls verify-full"), "{transport}");
    }
}

#[tokio::test]
async fn the_transport_is_verified_tls_and_a_client_certificate_is_presented() {
    let (url, ca, cert, key) = (tls_url(), file("ca.pem"), file("client.pem"), file("client.key"));
    let cache = cache(&[
        ("REDIS_URL", &url),
        ("REDIS_TLS_CA_FILE", &ca),
        ("REDIS_TLS_CERT_FILE", &cert),
        ("REDIS_TLS_KEY_FILE", &key),
    ])
    .await;
    cache.set("tls:k", "v".into(), Ttl::from_secs(60).unwrap()).await.unwrap();
    assert_eq!(cache.get("tls:k").await.unwrap().as_deref(), Some(&b"v"[..]));
    let transport = cache.transport().await.unwrap().to_string();
    assert_eq!(transport, format!("tls verify-full (CA {ca}, client certificate)"));
}

#[tokio::test]
async fn a_wrong_ca_is_refused_and_nothing_falls_back_to_plaintext() {
    let (url, other) = (tls_url(), file("other-ca.pem"));
    let err = cache(&[("REDIS_URL", &url), ("REDIS_TLS_CA_FILE", &other)]).await.ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    // TLS asked of a server that speaks plaintext fails; it is never quietly plaintext.
    let plain = format!("rediss://127.0.0.1:{}", support::port("REDIS_PORT"));
    let ca = file("ca.pem");
    let plain_cache = cache(&[("REDIS_URL", &plain), ("REDIS_TLS_CA_FILE", &ca)]).await;
    for err in [plain_cache.ping().await.unwrap_err(), plain_cache.get("anything").await.unwrap_err()] {
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains("answered in plaintext") && err.to_string().contains("redis://"), "{err}");
    }
    // And plaintext asked of the TLS-only server fails too.
    let to_tls = format!("redis://127.0.0.1:{}", support::port("REDIS_TLS_PORT"));
    let err = cache(&[("REDIS_URL", &to_tls)]).await.ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("speaks TLS") && err.to_string().contains("rediss://"), "{err}");
}

#[tokio::test]
async fn sentinel_over_tls_finds_a_tls_master() {
    let nodes = format!("127.0.0.1:{}", support::port("SENTINEL_TLS_PORT"));
    let (ca, master_url) = (file("ca.pem"), "rediss://127.0.0.1".to_string());
    let cache = cache(&[
        ("REDIS_SENTINEL_ENABLED", "true"),
        ("REDIS_SENTINEL_NODES", &nodes),
        ("REDIS_SENTINEL_MASTER", "tlsmaster"),
        ("REDIS_SENTINEL_TLS", "true"),
        ("REDIS_URL", &master_url),
        ("REDIS_TLS_CA_FILE", &ca),
    ])
    .await;
    cache.set("tls:sentinel", "v".into(), Ttl::from_secs(60).unwrap()).await.unwrap();
    assert_eq!(cache.get("tls:sentinel").await.unwrap().as_deref(), Some(&b"v"[..]));
    let transport = cache.transport().await.unwrap().to_string();
    assert!(transport.starts_with("sentinels: tls verify-full") && transport.contains("master: tls verify-full"));
    // Without REDIS_SENTINEL_TLS the sentinels are spoken to in plaintext, which they refuse.
    let plain_sentinels = plaintext_sentinels(&nodes, &ca, &master_url).await;
    // The TLS-only sentinel resets the plaintext connection.
    let err = plain_sentinels.ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("reset"), "{err}");
}

async fn plaintext_sentinels(nodes: &str, ca: &str, master_url: &str) -> Arc<dyn CacheService> {
    cache(&[
        ("REDIS_SENTINEL_ENABLED", "true"),
        ("REDIS_SENTINEL_NODES", nodes),
        ("REDIS_SENTINEL_MASTER", "tlsmaster"),
        ("REDIS_URL", master_url),
        ("REDIS_TLS_CA_FILE", ca),
    ])
    .await
}

#[test]
fn mistakes_stop_start_up() {
    let error = |extra: &[(&str, &str)]| settings(extra).unwrap_err().to_string();
    let (tls, ca, cert, server_key) = (tls_url(), file("ca.pem"), file("client.pem"), file("server.key"));
    let plain = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let text = error(&[("REDIS_URL", &plain), ("REDIS_TLS_CA_FILE", &ca)]);
    assert!(text.contains("no Redis connection uses TLS") && text.contains("rediss://"), "{text}");
    let text = error(&[("REDIS_URL", &tls)]);
    assert!(text.contains("REDIS_TLS_CA_FILE") && text.contains("127.0.0.1"), "{text}");
    let text = error(&[("REDIS_URL", &tls), ("REDIS_TLS_CA_FILE", "/nonexistent/ca.pem")]);
    assert!(text.contains("REDIS_TLS_CA_FILE") && text.contains("cannot read /nonexistent/ca.pem"), "{text}");
    let text = error(&[("REDIS_URL", &tls), ("REDIS_TLS_CA_FILE", &ca), ("REDIS_TLS_CERT_FILE", &cert)]);
    assert!(text.contains("without REDIS_TLS_KEY_FILE"), "{text}");
    let text = error(&[
        ("REDIS_URL", &tls),
        ("REDIS_TLS_CA_FILE", &ca),
        ("REDIS_TLS_CERT_FILE", &cert),
        ("REDIS_TLS_KEY_FILE", &server_key),
    ]);
    assert!(text.contains("does not belong to the certificate") && !text.contains("PRIVATE"), "{text}");
    let insecure = format!("{tls}/#insecure");
    let text = error(&[("REDIS_URL", &insecure), ("REDIS_TLS_CA_FILE", &ca)]);
    assert!(text.contains("#insecure"), "{text}");
    let memcached = Settings::from_vars([
        ("CACHE_PROVIDER", "memcached"),
        ("MEMCACHED_SERVERS", &format!("127.0.0.1:{}", support::port("MEMCACHED_PORT"))),
        ("MEMCACHED_TLS", "true"),
        ("DB_PROVIDER", "sqlite"),
        support::SEALING[0],
        support::SEALING[1],
    ])
    .unwrap_err()
    .to_string();
    assert!(memcached.contains("MEMCACHED_TLS") && memcached.contains("plain TCP"), "{memcached}");
}
