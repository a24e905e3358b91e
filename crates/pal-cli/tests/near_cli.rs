//! The near cache as an operator meets it: `pal check` says whether it tracks,
//! a short-lived `pal cache` process works with it on, and it is refused where
//! the server sends no invalidations, with the reason.

mod support;

use support::{KEYS, pal, stdout, text, unique};

fn vars(url: &str) -> Vec<(&str, &str)> {
    let mut vars = vec![("CACHE_PROVIDER", "redis"), ("REDIS_URL", url), ("CACHE_NEAR_MAX_BYTES", "1048576")];
    vars.extend(KEYS);
    vars
}

#[test]
fn pal_check_shows_the_tracking_connection() {
    let url = support::ports::redis_url();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/check.db", dir.path().display());
    let mut vars = vars(&url);
    vars.extend([("DB_PROVIDER", "sqlite"), ("DATABASE_URL", db.as_str()), ("DB_AUTO_MIGRATE", "true")]);
    let (out, _) = pal(&vars, &["check"]);
    assert!(text(&out).contains("near cache: tracking on 127.0.0.1:"), "{}", text(&out));
    let (out, _) = pal(&vars, &["check", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(doc["near_cache"]["tracking"], true, "{doc}");
    assert_eq!(doc["near_cache"]["max_bytes"], 1048576, "{doc}");
}

#[test]
fn short_lived_processes_read_what_others_wrote() {
    let url = support::ports::redis_url();
    let key = unique("near");
    for value in ["one", "two", "three"] {
        let (out, _) = pal(&vars(&url), &["cache", "set", &key, value, "--ttl", "60"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let (out, _) = pal(&vars(&url), &["cache", "get", &key]);
        assert_eq!((out.status.code(), stdout(&out)), (Some(0), value.to_string()), "{}", text(&out));
    }
    pal(&vars(&url), &["cache", "del", &key]);
}

#[test]
fn providers_without_invalidations_refuse_it_with_the_reason() {
    let memcached = format!("127.0.0.1:{}", support::port("MEMCACHED_PORT"));
    let (out, _) = pal(
        &[("CACHE_PROVIDER", "memcached"), ("MEMCACHED_SERVERS", &memcached), ("CACHE_NEAR_MAX_BYTES", "1048576")],
        &["cache", "get", "k"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("sends no invalidation messages"), "{}", text(&out));
    let (out, _) = pal(&[("CACHE_PROVIDER", "memory"), ("CACHE_NEAR_MAX_BYTES", "1048576")], &["cache", "get", "k"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("keeps every value in this process already"), "{}", text(&out));
    let (out, _) = pal(&[("CACHE_PROVIDER", "memory"), ("CACHE_NEAR_TTL_MAX_MS", "0")], &["cache", "get", "k"]);
    assert!(text(&out).contains("CACHE_NEAR_TTL_MAX_MS"), "{}", text(&out));
}
