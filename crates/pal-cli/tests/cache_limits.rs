//! `CACHE_MAX_VALUE_BYTES` as an operator meets it through `pal cache set`: a value
//! over the limit fails at once with `ValueTooLarge` naming its size, the limit and
//! the variable, nothing is stored (on redis-hybrid, not even the database copy),
//! and standard input is read only up to the limit, so a huge or endless input is
//! refused without waiting for its end or holding it in memory.

mod support;

use std::time::{Duration, Instant};

use support::{KEYS, pal, pal_with_input, port, stdout, text, unique};

fn redis_vars(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("CACHE_PROVIDER", "redis".to_string()),
        ("REDIS_URL", format!("redis://127.0.0.1:{}", port("REDIS_PORT"))),
        ("DB_PROVIDER", "sqlite".to_string()),
        ("DATABASE_URL", "sqlite::memory:".to_string()),
        (KEYS[0].0, KEYS[0].1.to_string()),
        (KEYS[1].0, KEYS[1].1.to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    vars
}

fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn a_value_over_the_limit_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hybrid.db").display());
    let vars = [
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &format!("redis://127.0.0.1:{}", port("REDIS_PORT"))),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", &db),
        ("CACHE_MAX_VALUE_BYTES", "4096"),
        KEYS[0],
        KEYS[1],
    ];
    let key = unique("limit");
    let (out, _) = pal(&vars, &["cache", "set", &key, &"x".repeat(5000), "--ttl", "60"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let message = text(&out);
    assert!(
        message.contains("value too large: a value of 5000 bytes (")
            && message.contains("once sealed) is larger than CACHE_MAX_VALUE_BYTES=4096"),
        "names the size, the limit and the variable: {message}"
    );
    // Neither Redis nor the database copy holds it.
    let (out, _) = pal(&vars, &["cache", "get", &key]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (out, _) = pal(&vars, &["cache", "set", &key, &"y".repeat(4000), "--ttl", "60"]);
    assert!(out.status.success(), "a value under the limit is stored: {}", text(&out));
}

#[test]
fn standard_input_is_read_only_up_to_the_limit() {
    let vars = redis_vars(&[("CACHE_MAX_VALUE_BYTES", "4096")]);
    let key = unique("stdin");
    // The pipe stays open: a process that read to the end would never finish.
    let out = pal_with_input(&borrowed(&vars), &["cache", "set", &key, "-", "--ttl", "60"], vec![b'z'; 1 << 20], false)
        .expect("pal stops reading past the limit and answers, without waiting for the end of its input");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let message = text(&out);
    assert!(
        message.contains("value too large: standard input holds more than")
            && message.contains("CACHE_MAX_VALUE_BYTES")
            && message.contains("nothing was stored"),
        "{message}"
    );
    let (out, _) = pal(&borrowed(&vars), &["cache", "get", &key]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Within the limit, standard input is stored as it is.
    let out = pal_with_input(&borrowed(&vars), &["cache", "set", &key, "-", "--ttl", "60"], vec![b'z'; 4000], true)
        .expect("pal ends");
    assert!(out.status.success(), "{}", text(&out));
    let (out, _) = pal(&borrowed(&vars), &["cache", "get", &key]);
    assert_eq!(stdout(&out).len(), 4000, "{}", text(&out));
}

/// With the default limit (16 MiB), a value of more than that is refused at once,
/// where it used to be read whole and then time out on Redis.
#[test]
fn the_default_limit_refuses_a_huge_input_at_once() {
    let vars = redis_vars(&[]);
    let key = unique("huge");
    let started = Instant::now();
    let out = pal_with_input(&borrowed(&vars), &["cache", "set", &key, "-", "--ttl", "60"], vec![0u8; 24 << 20], false)
        .expect("pal stops reading past the limit");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("more than 167771") && text(&out).contains("CACHE_MAX_VALUE_BYTES"), "{}", text(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
