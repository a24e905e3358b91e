//! The sealing key record through the library, on the real servers: reads never
//! write it, the first write of a process does, once, and only where no sampled
//! value names another `CACHE_KEY_SECRET`; a sample read from Redis (standalone,
//! Sentinel, Cluster), memcached and redis-hybrid's two parts tells the formats
//! and secrets of stored values apart.

mod suite;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use pal::cache::{Found, KeyCheck, KeyRecord, RECORD_KEY};
use pal::crypto::Sealer;
use pal::{CacheService, ErrorKind, Settings, Ttl};

const SECRET_A: &str = support::SEALING[0].1;
const SECRET_B: &str = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=";
/// `[1; 32]`, the key the format-2 vector below was sealed with.
const K1: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K9: &str = "k9:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg=";
/// "written by format 2", sealed in format 2 under `K1` for the storage key `session:abc`.
const FORMAT_2: &str =
    "a8026b31000102030405060708090a0b91cfb4d9c4a128a382ba26233351abb5806a92a437e7c2164e7a3784b635b110c2c738";

fn ttl() -> Ttl {
    Ttl::from_secs(120).unwrap()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// One cache configuration, opened with either secret.
struct Subject {
    vars: Vec<(&'static str, String)>,
}

impl Subject {
    fn settings(&self, secret: &str, keys: &str) -> Settings {
        let mut vars: Vec<(&str, &str)> = self.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.extend([("CACHE_KEY_SECRET", secret), ("CACHE_ENCRYPTION_KEYS", keys)]);
        Settings::from_vars(vars).unwrap()
    }

    async fn cache(&self, secret: &str) -> Arc<dyn CacheService> {
        pal::factory::build_cache(&self.settings(secret, K1)).await.unwrap()
    }

    async fn check(&self, secret: &str) -> KeyCheck {
        pal::factory::build_key_check(&self.settings(secret, K1)).await.unwrap()
    }

    fn sealer(&self, secret: &str, keys: &str) -> Arc<Sealer> {
        pal::factory::sealer(&self.settings(secret, keys)).unwrap().unwrap()
    }

    /// Deletes the record, which lives a year, once the test is done with it.
    async fn forget_record(&self) {
        let vars: Vec<(&str, &str)> = self.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        support::forget_key_record(&vars).await;
    }
}

fn redis_subject(prefix: &str) -> Subject {
    Subject {
        vars: vec![
            ("CACHE_PROVIDER", "redis".into()),
            ("REDIS_URL", format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"))),
            ("CACHE_KEY_PREFIX", prefix.into()),
            ("DB_PROVIDER", "sqlite".into()),
        ],
    }
}

async fn raw_get(key: &str) -> Option<Vec<u8>> {
    let mut raw = support::node(&support::port("REDIS_PORT")).await;
    redis::cmd("GET").arg(key).query_async(&mut raw).await.unwrap()
}

async fn raw_set(key: &str, value: &[u8]) {
    let mut raw = support::node(&support::port("REDIS_PORT")).await;
    let _: () = redis::cmd("SET").arg(key).arg(value).arg("EX").arg(120).query_async(&mut raw).await.unwrap();
}

async fn raw_del(key: &str) {
    let mut raw = support::node(&support::port("REDIS_PORT")).await;
    let _: i64 = redis::cmd("DEL").arg(key).query_async(&mut raw).await.unwrap();
}

/// The record as stored in Redis under `prefix`, read with Redis's own client.
async fn record(prefix: &str) -> Option<KeyRecord> {
    raw_get(&format!("{prefix}{RECORD_KEY}")).await.map(|raw| serde_json::from_slice(&raw).unwrap())
}

#[tokio::test]
async fn reads_never_write_the_record_and_the_first_write_does_once() {
    let prefix = support::run_prefix("kr");
    let subject = redis_subject(&prefix);
    let a = subject.cache(SECRET_A).await;
    assert_eq!(a.get("x:1").await.unwrap(), None);
    assert_eq!(a.ttl("x:1").await.unwrap(), None);
    assert_eq!(a.check_configuration().await.unwrap(), Vec::<String>::new());
    subject.check(SECRET_A).await.inspect().await.unwrap();
    assert_eq!(record(&prefix).await, None, "reads, checks and inspections write nothing");

    a.set("x:1", Bytes::from_static(b"v"), ttl()).await.unwrap();
    let written = record(&prefix).await.expect("the first write leaves the record");
    assert_eq!(written.fingerprint, Some(subject.sealer(SECRET_A, K1).fingerprint()));
    assert_eq!(written.key_ids, ["k1"]);
    assert!(written.written_at.is_some());
    assert!(written.written_by.as_deref().is_some_and(|by| by.contains("first write")), "{written:?}");

    raw_del(&format!("{prefix}{RECORD_KEY}")).await;
    a.set("x:2", Bytes::from_static(b"v"), ttl()).await.unwrap();
    assert_eq!(record(&prefix).await, None, "once per process");
    let counter = subject.cache(SECRET_A).await;
    counter.incr("c:1", 1, ttl()).await.unwrap();
    assert!(record(&prefix).await.is_some(), "a counter's first increment is a write too");
    subject.forget_record().await;
}

#[tokio::test]
async fn a_writer_leaves_no_record_over_values_of_another_secret() {
    let prefix = support::run_prefix("kr");
    let subject = redis_subject(&prefix);
    let a = subject.cache(SECRET_A).await;
    a.set("x:1", Bytes::from_static(b"v"), ttl()).await.unwrap();
    a.set("x:2", Bytes::from_static(b"v"), ttl()).await.unwrap();
    raw_del(&format!("{prefix}{RECORD_KEY}")).await;

    let b = subject.cache(SECRET_B).await;
    b.set("y:1", Bytes::from_static(b"v"), ttl()).await.unwrap();
    assert_eq!(record(&prefix).await, None, "the sample names secret A: B leaves no record");
    let err = b.check_configuration().await.unwrap_err();
    let text = err.to_string();
    let a_fingerprint = subject.sealer(SECRET_A, K1).fingerprint();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(text.contains("another CACHE_KEY_SECRET") && text.contains(&a_fingerprint), "{text}");
    assert!(text.contains("pal cache keycheck --reset") && text.contains("Restore"), "{text}");
    assert!(!text.contains("clear"), "never advises clearing a cache whose values open: {text}");

    // A's own view is the same story the other way round: B's value is foreign.
    let err = subject.cache(SECRET_A).await.check_configuration().await.unwrap_err();
    assert!(err.to_string().contains("1 of 3 sampled values"), "{err}");
    assert!(err.to_string().contains("2 sampled values were sealed under this secret"), "{err}");
    subject.forget_record().await;
}

#[tokio::test]
async fn a_stale_record_is_replaced_by_a_writer_whose_values_are_sampled() {
    let prefix = support::run_prefix("kr");
    let subject = redis_subject(&prefix);
    subject.cache(SECRET_A).await.set("x:1", Bytes::from_static(b"v"), ttl()).await.unwrap();
    let mine = record(&prefix).await.unwrap();

    let (replaced, planted) = subject.check(SECRET_B).await.reset().await.unwrap();
    assert_eq!(replaced, Found::Record(mine.clone()));
    assert_eq!(record(&prefix).await.as_ref(), Some(&planted));
    assert!(planted.written_by.as_deref().is_some_and(|by| by.contains("reset")));

    let a = subject.cache(SECRET_A).await;
    let notes = a.check_configuration().await.expect("the sampled values name A: healthy");
    assert!(notes.iter().any(|n| n.contains("stale") && n.contains("--reset")), "{notes:?}");
    let report = subject.check(SECRET_A).await.inspect().await.unwrap();
    assert!(report.disagrees() && !report.mismatch(), "{report:?}");

    a.set("x:2", Bytes::from_static(b"v"), ttl()).await.unwrap();
    let back = record(&prefix).await.unwrap();
    assert_eq!(back.fingerprint, mine.fingerprint, "the writer put A's record back");
    assert!(!subject.check(SECRET_A).await.inspect().await.unwrap().disagrees());
    subject.forget_record().await;
}

#[tokio::test]
async fn the_sample_tells_formats_secrets_and_key_ids_apart() {
    let prefix = support::run_prefix("kr");
    let subject = redis_subject(&prefix);
    let a = subject.cache(SECRET_A).await;
    a.set("x:mine", Bytes::from_static(b"v"), ttl()).await.unwrap();
    assert!(record(&prefix).await.is_some());
    a.incr("c:count", 5, ttl()).await.unwrap();
    raw_set(&format!("{prefix}x:plain"), b"not sealed").await;
    raw_set(&format!("{prefix}session:abc"), &unhex(FORMAT_2)).await;
    let foreign = subject.sealer(SECRET_B, K1).seal("x:foreign", b"v").unwrap();
    raw_set(&format!("{prefix}x:foreign"), &foreign).await;
    let other_key = subject.sealer(SECRET_A, K9).seal("x:k9", b"v").unwrap();
    raw_set(&format!("{prefix}x:k9"), &other_key).await;
    a.set("x:tampered", Bytes::from_static(b"v"), ttl()).await.unwrap();
    let stored = subject.sealer(SECRET_A, K1).hash_key("x:tampered");
    let mut tampered = raw_get(&format!("{prefix}{stored}")).await.unwrap();
    *tampered.last_mut().unwrap() ^= 1;
    raw_set(&format!("{prefix}{stored}"), &tampered).await;

    let report = subject.check(SECRET_A).await.inspect().await.unwrap();
    let sample = report.sample.clone().expect("Redis lists its keys");
    let b_fingerprint = subject.sealer(SECRET_B, K1).fingerprint();
    assert_eq!(sample.sampled, 7, "{sample:?}");
    assert_eq!(
        (sample.this_secret, sample.old_format, sample.failed, sample.counters, sample.not_sealed),
        (1, 1, 1, 1, 1),
        "{sample:?}"
    );
    assert_eq!(sample.other_secrets, BTreeMap::from([(b_fingerprint.clone(), 1)]));
    assert_eq!(sample.unknown_key_ids, BTreeMap::from([("k9".to_string(), 1)]));
    assert_eq!(sample.key_ids, BTreeMap::from([("k1".to_string(), 4), ("k9".to_string(), 1)]));
    assert_eq!(report.record_matches, Some(true));
    // The record names A, so B's value is a note rather than a mismatch.
    let notes = report.verdict().unwrap();
    assert!(notes.iter().any(|n| n.contains(&b_fingerprint)), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("\"k9\"")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("fail authentication")), "{notes:?}");
    subject.forget_record().await;
}

/// Writes `values` values with secret A, then checks with secret B.
async fn b_sees_a(subject: &Subject, values: usize) {
    let a = subject.cache(SECRET_A).await;
    for i in 0..values {
        a.set(&format!("x:{i}"), Bytes::from_static(b"v"), ttl()).await.unwrap();
    }
    let report = subject.check(SECRET_B).await.inspect().await.unwrap();
    let sample = report.sample.clone().expect("this cache lists its keys");
    let a_fingerprint = subject.sealer(SECRET_A, K1).fingerprint();
    assert_eq!(sample.other_secrets, BTreeMap::from([(a_fingerprint, values)]), "{sample:?}");
    assert_eq!(report.record_matches, Some(false), "A's first write left A's record");
    assert!(report.mismatch());
    let err = subject.cache(SECRET_B).await.check_configuration().await.unwrap_err();
    assert!(err.to_string().contains("another CACHE_KEY_SECRET"), "{err}");
    subject.forget_record().await;
}

#[tokio::test]
async fn memcached_lists_keys_with_lru_crawler_metadump() {
    let subject = Subject {
        vars: vec![
            ("CACHE_PROVIDER", "memcached".into()),
            ("MEMCACHED_SERVERS", format!("127.0.0.1:{}", support::port("MEMCACHED_PORT"))),
            ("CACHE_KEY_PREFIX", support::run_prefix("kr")),
            ("DB_PROVIDER", "sqlite".into()),
        ],
    };
    b_sees_a(&subject, 3).await;
}

#[tokio::test]
async fn redis_cluster_is_sampled_on_every_master() {
    let nodes: Vec<String> = support::port_list("CLUSTER_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let subject = Subject {
        vars: vec![
            ("CACHE_PROVIDER", "redis".into()),
            ("REDIS_CLUSTER_ENABLED", "true".into()),
            ("REDIS_CLUSTER_NODES", nodes[..2].join(",")),
            ("CACHE_KEY_PREFIX", support::run_prefix("kr")),
            ("DB_PROVIDER", "sqlite".into()),
        ],
    };
    b_sees_a(&subject, 9).await;
}

#[tokio::test]
async fn redis_sentinel_is_sampled_on_the_master() {
    let nodes: Vec<String> = support::port_list("SENTINEL_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let subject = Subject {
        vars: vec![
            ("CACHE_PROVIDER", "redis".into()),
            ("REDIS_SENTINEL_ENABLED", "true".into()),
            ("REDIS_SENTINEL_MASTER", support::port("SENTINEL_MASTER_NAME")),
            ("REDIS_SENTINEL_NODES", nodes.join(",")),
            ("CACHE_KEY_PREFIX", support::run_prefix("kr")),
            ("DB_PROVIDER", "sqlite".into()),
        ],
    };
    b_sees_a(&subject, 3).await;
}

/// Both parts are sampled: values whose Redis copy is gone are found in the
/// database's `sessions` table, sealed the same way.
#[tokio::test]
async fn redis_hybrid_samples_its_database_part_too() {
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let prefix = support::run_prefix("kr");
    let subject = Subject {
        vars: vec![
            ("CACHE_PROVIDER", "redis-hybrid".into()),
            ("REDIS_URL", format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"))),
            ("CACHE_KEY_PREFIX", prefix.clone()),
            ("DB_PROVIDER", "postgresql".into()),
            ("DATABASE_URL", url.clone()),
            ("DB_AUTO_MIGRATE", "true".into()),
        ],
    };
    let a = subject.cache(SECRET_A).await;
    for i in 0..2 {
        a.set(&format!("x:{i}"), Bytes::from_static(b"v"), ttl()).await.unwrap();
        raw_del(&format!("{prefix}{}", subject.sealer(SECRET_A, K1).hash_key(&format!("x:{i}")))).await;
    }
    let report = subject.check(SECRET_B).await.inspect().await.unwrap();
    let sample = report.sample.clone().unwrap();
    let a_fingerprint = subject.sealer(SECRET_A, K1).fingerprint();
    assert_eq!(sample.other_secrets, BTreeMap::from([(a_fingerprint, 2)]), "from the database: {sample:?}");
    assert_eq!(report.record_matches, Some(false));
    drop(a);
    subject.forget_record().await;
    teardown.await;
}
