//! The sealing key record through the `pal` binary against the real Redis, as an
//! operator meets it: a wrong CACHE_KEY_SECRET on a cache holding data without a
//! record is reported and writes nothing; read-only commands (`pal check`, `pal
//! cache get`/`ttl`/`keycheck`, `pal serve` start-up) never create the record, a
//! write does; `pal cache keycheck` prints it and what a sample says, and
//! `--reset` replaces it. Every key lives under a unique CACHE_KEY_PREFIX and
//! expires.

mod support;

use std::process::Output;

use support::serve::Serve;
use support::{pal_command, text};

const SECRET_A: &str = "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc=";
const SECRET_B: &str = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=";
const KEYS: &str = "k1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg=";

fn redis_port() -> String {
    support::port("REDIS_PORT")
}

/// One run's cache: Redis under a prefix of its own.
struct Cache {
    url: String,
    prefix: String,
}

impl Cache {
    fn new() -> Cache {
        let prefix = format!("kc{}:", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        Cache { url: format!("redis://127.0.0.1:{}", redis_port()), prefix }
    }

    fn vars<'a>(&'a self, secret: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("CACHE_PROVIDER", "redis"),
            ("REDIS_URL", &self.url),
            ("CACHE_KEY_PREFIX", &self.prefix),
            ("DB_PROVIDER", "sqlite"),
            ("DATABASE_URL", "sqlite::memory:"),
            ("DB_AUTO_MIGRATE", "true"),
            ("CACHE_KEY_SECRET", secret),
            ("CACHE_ENCRYPTION_KEYS", KEYS),
        ]
    }

    fn pal(&self, secret: &str, args: &[&str]) -> Output {
        pal_command().envs(self.vars(secret)).args(args).output().unwrap()
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str()).unwrap().get_connection().unwrap()
    }

    fn record(&self) -> Option<serde_json::Value> {
        let raw: Option<String> =
            redis::cmd("GET").arg(format!("{}pal:keycheck", self.prefix)).query(&mut self.redis()).unwrap();
        raw.map(|r| serde_json::from_str(&r).unwrap())
    }

    fn delete_record(&self) {
        let _: i64 = redis::cmd("DEL").arg(format!("{}pal:keycheck", self.prefix)).query(&mut self.redis()).unwrap();
    }

    /// The fingerprint a secret's values carry, as `pal cache keycheck --json` says.
    fn fingerprint(&self, secret: &str) -> String {
        let out = self.pal(secret, &["cache", "keycheck", "--json"]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["report"]["configured"]["fingerprint"].as_str().unwrap().to_string()
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // Everything expires anyway; a record lives a year, so it goes now.
        self.delete_record();
    }
}

/// The defect as it was met: data, no record, one `pal check` with the wrong
/// secret. It must report the mismatch and write nothing, so the right secret
/// stays healthy afterwards.
#[test]
fn a_wrong_secret_on_data_without_a_record_is_reported_and_writes_nothing() {
    let cache = Cache::new();
    for key in ["session:1", "session:2", "session:3"] {
        let out = cache.pal(SECRET_A, &["cache", "set", key, "value", "--ttl", "120"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    cache.delete_record();

    let out = cache.pal(SECRET_B, &["check"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "the mismatch is reported: {msg}");
    assert!(msg.contains("DOWN: ") && msg.contains("another CACHE_KEY_SECRET"), "{msg}");
    assert!(msg.contains("3 of 3 sampled values"), "says what it found: {msg}");
    assert!(msg.contains("miss here"), "says what it means: {msg}");
    assert!(msg.contains("Restore the CACHE_KEY_SECRET") && msg.contains("pal cache keycheck --reset"), "{msg}");
    assert!(!msg.contains("clear"), "never advises clearing readable data: {msg}");
    assert_eq!(cache.record(), None, "a check writes nothing");

    let out = cache.pal(SECRET_A, &["check"]);
    assert_eq!(out.status.code(), Some(0), "the right secret stays healthy: {}", text(&out));
    let out = cache.pal(SECRET_A, &["cache", "get", "session:1"]);
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), &b"value"[..]));
    assert_eq!(cache.record(), None);

    let out = cache.pal(SECRET_A, &["cache", "set", "session:4", "value", "--ttl", "120"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let record = cache.record().expect("a write leaves the record");
    assert_eq!(record["fingerprint"], cache.fingerprint(SECRET_A));
    assert_eq!(record["key_ids"], serde_json::json!(["k1"]));
}

/// Starts `pal serve`, waits until it answers, stops it with SIGTERM; returns what
/// it logged.
fn serve_and_stop(cache: &Cache, secret: &str) -> String {
    Serve::start(&cache.vars(secret)).stop().1
}

#[test]
fn read_only_commands_never_create_the_record() {
    let cache = Cache::new();
    let out = cache.pal(SECRET_A, &["cache", "set", "session:1", "value", "--ttl", "120"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    cache.delete_record();
    for secret in [SECRET_A, SECRET_B] {
        for args in
            [&["check"][..], &["cache", "get", "session:1"], &["cache", "ttl", "session:1"], &["cache", "keycheck"]]
        {
            cache.pal(secret, args);
            assert_eq!(cache.record(), None, "{args:?} wrote the record");
        }
    }
    let logged = serve_and_stop(&cache, SECRET_B);
    assert_eq!(cache.record(), None, "pal serve's start-up check wrote the record");
    assert!(logged.contains("another CACHE_KEY_SECRET") && !logged.contains("clear"), "{logged}");
    serve_and_stop(&cache, SECRET_A);
    assert_eq!(cache.record(), None);
    cache.pal(SECRET_A, &["cache", "incr", "counter:1", "--ttl", "120"]);
    assert!(cache.record().is_some(), "an increment is a write");
}

#[test]
fn keycheck_prints_the_record_and_the_sample_and_reset_replaces_it() {
    let cache = Cache::new();
    for key in ["session:1", "session:2", "session:3"] {
        cache.pal(SECRET_A, &["cache", "set", key, "value", "--ttl", "120"]);
    }
    let (a, b) = (cache.fingerprint(SECRET_A), cache.fingerprint(SECRET_B));
    assert_ne!(a, b);

    let out = cache.pal(SECRET_A, &["cache", "keycheck"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(0), "{msg}");
    assert!(msg.contains(&format!("record (pal:keycheck) of this CACHE_KEY_SECRET: fingerprint {a}")), "{msg}");
    assert!(msg.contains("first write") && msg.contains("3 stored values read"), "{msg}");
    assert!(msg.contains("   3 sealed under this secret") && msg.contains("agrees"), "{msg}");

    let out = cache.pal(SECRET_B, &["cache", "keycheck"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "the answer is no: {msg}");
    assert!(msg.contains(&format!("   3 sealed under other secrets: {a} ×3")), "{msg}");
    assert!(msg.contains("of ANOTHER CACHE_KEY_SECRET") && msg.contains("MISMATCH"), "{msg}");

    let out = cache.pal(SECRET_B, &["cache", "keycheck", "--reset"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(0), "{msg}");
    let (replacing, now) = (msg.find("replacing pal:keycheck").unwrap(), msg.find("pal:keycheck now").unwrap());
    assert!(replacing < now, "says what it replaces first: {msg}");
    assert!(msg.contains(&format!("a record of another CACHE_KEY_SECRET: fingerprint {a}")), "{msg}");
    assert!(msg.contains(&format!("now: fingerprint {b}")) && msg.contains("3 sampled values name other"), "{msg}");
    assert_eq!(cache.record().unwrap()["fingerprint"], b);

    // The values still name A: with A the stale record is a note, healthy; the
    // keycheck says no until the record is A's again.
    let out = cache.pal(SECRET_A, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("the record is stale"), "{}", text(&out));
    assert_eq!(cache.pal(SECRET_A, &["cache", "keycheck"]).status.code(), Some(1));
    let out = cache.pal(SECRET_A, &["cache", "keycheck", "--reset", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["replaced"]["fingerprint"].as_str(), doc["record"]["fingerprint"].as_str()),
        (Some(&*b), Some(&*a))
    );
    let out = cache.pal(SECRET_A, &["cache", "keycheck", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["report"]["sample"]["this_secret"], 3);
    assert_eq!(doc["report"]["record_matches"], true);
}

#[test]
fn keycheck_needs_sealing_and_a_shared_cache_and_says_so_in_help() {
    let memory = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")];
    let run = |vars: &[(&str, &str)]| pal_command().envs(vars.iter().copied()).args(["cache", "keycheck"]).output();
    let out = run(&memory).unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no key record"), "{}", text(&out));
    let cache = Cache::new();
    let mut plain: Vec<(&str, &str)> = cache.vars(SECRET_A)[..6].to_vec();
    plain.push(("CACHE_INSECURE_NO_ENCRYPTION", "true"));
    let out = run(&plain).unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("sealing is off"), "{}", text(&out));

    let help = |args: &[&str]| String::from_utf8(cache.pal(SECRET_A, args).stdout).unwrap();
    assert!(help(&["cache", "--help"]).contains("keycheck"));
    let text = help(&["cache", "keycheck", "--help"]);
    assert!(text.contains("--reset") && text.contains("pal:keycheck") && text.contains("Exit status"), "{text}");
}
