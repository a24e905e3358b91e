use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pal::{CacheService, CacheServiceExt, ErrorKind, Ttl};
use serde::{Deserialize, Serialize};

use super::namespace;
// Used through `cache_conformance!`, which not every test crate invokes.
#[allow(unused_imports)]
pub(crate) use super::cache_ops::{
    add_stores_only_when_absent, batch_ttls_expire, batches_keep_order_and_duplicates,
    batches_over_the_limits_are_split, conditional_delete_and_touch_compare_the_value,
    get_or_load_loads_once_for_a_thousand_callers, get_with_ttl_reads_both, locks_exclude_and_fence,
    read_through_refreshes_early, read_through_serves_stale_when_the_source_fails,
};

/// What each provider can do, written down here apart from its own declaration
/// (`capabilities()`): the cases expect this, so a declaration that claims less
/// (unsigned counters, a coarser expiry) fails `declares_itself` instead of
/// quietly asking less of the provider.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pinned {
    pub leaves_process: bool,
    pub signed_counters: bool,
    pub expiry_resolution: Duration,
    /// The provider's own value limit, before `CACHE_MAX_VALUE_BYTES` or the
    /// sealing overhead lower it.
    pub own_max_value_bytes: Option<usize>,
}

pub(crate) fn pinned(provider: &str) -> Pinned {
    let server = Pinned {
        leaves_process: true,
        signed_counters: true,
        expiry_resolution: Duration::from_millis(1),
        own_max_value_bytes: Some(512 * 1024 * 1024),
    };
    match provider {
        "memory" => Pinned { leaves_process: false, own_max_value_bytes: None, ..server },
        "redis" | "keydb" | "redis-hybrid" => server,
        "memcached" => Pinned {
            signed_counters: false,
            expiry_resolution: Duration::from_secs(1),
            own_max_value_bytes: Some(1024 * 1024),
            ..server
        },
        other => panic!("no capabilities are pinned for {other}: write them in tests/suite/cache.rs"),
    }
}

/// A cache under test, and what it is expected to do ([`pinned`] for its
/// provider): the cases read that, never a provider's name.
pub(crate) struct CacheSubject {
    pub cache: Arc<dyn CacheService>,
    /// The provider's item size limit, when it caps items near 1 MiB: larger
    /// values must fail with `ValueTooLarge` naming it.
    pub size_limit: Option<usize>,
    /// Whether counters are signed 64-bit (where not, negative increments are
    /// `Unsupported`).
    pub signed_counters: bool,
    /// How late after its TTL a key may still be seen: the provider's expiry
    /// resolution, and scheduling on a loaded machine.
    pub expiry_slack: Duration,
    /// Keeps whatever backs the cache alive for the length of the test.
    pub guard: Option<Box<dyn std::any::Any + Send>>,
}

impl CacheSubject {
    pub(crate) fn new(cache: Arc<dyn CacheService>) -> Self {
        let expected = pinned(cache.provider());
        let scheduling = Duration::from_millis(if expected.leaves_process { 300 } else { 50 });
        CacheSubject {
            // The limit in effect depends on the configuration (CACHE_MAX_VALUE_BYTES,
            // MEMCACHED_MAX_ITEM_BYTES, sealing); `values_over_the_limit_are_refused`
            // checks it is the one enforced.
            size_limit: cache.capabilities().max_value_bytes,
            signed_counters: expected.signed_counters,
            expiry_slack: expected.expiry_resolution + scheduling,
            cache,
            guard: None,
        }
    }
}

/// Expands to one test per case of the cache suite, each run against a subject
/// built by `$subject`.
#[macro_export]
macro_rules! cache_conformance {
    ($subject:path) => {
        $crate::cache_conformance!(@cases $subject;
            round_trip, overwrite_replaces_value_and_ttl, delete_is_idempotent, ttl_expiry, ttl_reports_remaining,
            touch_extends, incr_is_atomic, incr_sets_ttl_only_on_create, incr_rejects_non_integers,
            incr_negative_and_overflow, binary_values, empty_value, one_mebibyte_value,
            values_over_the_limit_are_refused, unicode_keys,
            ten_thousand_keys, session_round_trip, concurrent_set_get_never_tears, ping, declares_itself,
            keys_servers_would_reject, keys_differ_by_case_and_trailing_spaces, batches_keep_order_and_duplicates,
            batches_over_the_limits_are_split, batch_ttls_expire, add_stores_only_when_absent,
            conditional_delete_and_touch_compare_the_value, locks_exclude_and_fence,
            get_or_load_loads_once_for_a_thousand_callers, read_through_serves_stale_when_the_source_fails,
            read_through_refreshes_early, get_with_ttl_reads_both);
    };
    (@cases $subject:path; $($case:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            let subject = $subject().await;
            $crate::suite::cache::$case(&subject).await;
        }
    )*};
}

/// `CACHE_MAX_VALUE_BYTES` for the subjects: small, so the limit is cheap to
/// reach, and above the 1 MiB the other cases store.
pub(crate) const VALUE_LIMIT: (&str, &str) = ("CACHE_MAX_VALUE_BYTES", "1572864");

fn ttl(secs: u64) -> Ttl {
    Ttl::from_secs(secs).unwrap()
}

pub(crate) async fn round_trip(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    assert_eq!(c.get(&format!("{ns}missing")).await.unwrap(), None);
    c.set(&format!("{ns}k"), Bytes::from_static(b"value"), ttl(60)).await.unwrap();
    assert_eq!(c.get(&format!("{ns}k")).await.unwrap().as_deref(), Some(&b"value"[..]));
    assert_eq!(c.get(&format!("{ns}K")).await.unwrap(), None, "keys are case-sensitive");
}

pub(crate) async fn overwrite_replaces_value_and_ttl(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}k", namespace()));
    c.set(&k, Bytes::from_static(b"one"), Ttl::from_millis(1000).unwrap()).await.unwrap();
    c.set(&k, Bytes::from_static(b"two"), ttl(60)).await.unwrap();
    assert_eq!(c.get(&k).await.unwrap().as_deref(), Some(&b"two"[..]));
    tokio::time::sleep(Duration::from_millis(1000) + s.expiry_slack).await;
    assert_eq!(c.get(&k).await.unwrap().as_deref(), Some(&b"two"[..]), "the second set's TTL applies");
}

pub(crate) async fn delete_is_idempotent(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}k", namespace()));
    c.set(&k, Bytes::from_static(b"v"), ttl(60)).await.unwrap();
    assert!(c.delete(&k).await.unwrap(), "deleting a present key reports it existed");
    assert!(!c.delete(&k).await.unwrap(), "deleting again is not an error");
    assert_eq!(c.get(&k).await.unwrap(), None);
}

/// Whether a read that has just returned happened before a TTL set at `set_at`
/// ran out. On a loaded machine the test can be descheduled past the TTL, and
/// then a "still there" check means nothing either way: it is left out, never
/// failed; every check made in time stays.
fn read_in_time(set_at: Instant, ttl: Duration) -> bool {
    set_at.elapsed() < ttl
}

pub(crate) async fn ttl_expiry(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}k", namespace()));
    let set_at = Instant::now();
    c.set(&k, Bytes::from_static(b"v"), ttl(1)).await.unwrap();
    let present = c.get(&k).await.unwrap().is_some();
    assert!(present || !read_in_time(set_at, Duration::from_secs(1)), "present before it expires");
    tokio::time::sleep(Duration::from_millis(500).saturating_sub(set_at.elapsed())).await;
    let present = c.get(&k).await.unwrap().is_some();
    assert!(present || !read_in_time(set_at, Duration::from_secs(1)), "still present half-way through its TTL");
    tokio::time::sleep(Duration::from_millis(1000).saturating_sub(set_at.elapsed()) + s.expiry_slack).await;
    assert_eq!(c.get(&k).await.unwrap(), None, "gone after it expires");
    assert_eq!(c.ttl(&k).await.unwrap(), None);
    assert!(!c.delete(&k).await.unwrap(), "an expired key does not count as deleted");
}

pub(crate) async fn ttl_reports_remaining(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}k", namespace()));
    assert_eq!(c.ttl(&k).await.unwrap(), None);
    c.set(&k, Bytes::from_static(b"v"), ttl(100)).await.unwrap();
    let left = c.ttl(&k).await.unwrap().expect("a live key has a TTL");
    assert!(left > Duration::from_secs(97) && left <= Duration::from_secs(100), "{left:?}");
}

pub(crate) async fn touch_extends(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let k = format!("{ns}k");
    let mut first = 1;
    loop {
        let set_at = Instant::now();
        c.set(&k, Bytes::from_static(b"v"), ttl(first)).await.unwrap();
        if c.touch(&k, ttl(30)).await.unwrap() {
            break;
        }
        let first_ttl = Duration::from_secs(first);
        assert!(!read_in_time(set_at, first_ttl), "touch found the key before its TTL ran out");
        // Descheduled past the first TTL: again, with more room.
        first *= 2;
    }
    tokio::time::sleep(Duration::from_secs(first) + s.expiry_slack).await;
    assert_eq!(c.get(&k).await.unwrap().as_deref(), Some(&b"v"[..]), "touch kept the key alive");
    let left = c.ttl(&k).await.unwrap().unwrap();
    assert!(left > Duration::from_secs(25), "{left:?}");
    assert!(!c.touch(&format!("{ns}missing"), ttl(30)).await.unwrap(), "touching a missing key creates nothing");
    assert_eq!(c.get(&format!("{ns}missing")).await.unwrap(), None);
}

pub(crate) async fn incr_is_atomic(s: &CacheSubject) {
    const TASKS: i64 = 64;
    const PER_TASK: i64 = 100;
    let k = format!("{}counter", namespace());
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let (c, k) = (s.cache.clone(), k.clone());
        handles.push(tokio::spawn(async move {
            let mut seen = Vec::with_capacity(PER_TASK as usize);
            for _ in 0..PER_TASK {
                seen.push(c.incr(&k, 1, ttl(60)).await.unwrap());
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all.sort_unstable();
    // Every increment observed a distinct value: no two saw the same counter state.
    assert_eq!(all, (1..=TASKS * PER_TASK).collect::<Vec<_>>());
    assert_eq!(s.cache.get(&k).await.unwrap().as_deref(), Some(format!("{}", TASKS * PER_TASK).as_bytes()));
}

pub(crate) async fn incr_sets_ttl_only_on_create(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}window", namespace()));
    assert_eq!(c.incr(&k, 1, ttl(1)).await.unwrap(), 1);
    assert_eq!(c.incr(&k, 1, ttl(100)).await.unwrap(), 2);
    let left = c.ttl(&k).await.unwrap().unwrap();
    assert!(left <= Duration::from_secs(1), "a later incr must not extend the window: {left:?}");
    tokio::time::sleep(Duration::from_millis(1000) + s.expiry_slack).await;
    assert_eq!(c.get(&k).await.unwrap(), None, "the window closed");
    assert_eq!(c.incr(&k, 1, ttl(100)).await.unwrap(), 1, "a new window starts at 1");
    assert!(c.ttl(&k).await.unwrap().unwrap() > Duration::from_secs(90));
}

pub(crate) async fn incr_rejects_non_integers(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}text", namespace()));
    c.set(&k, Bytes::from_static(b"abc"), ttl(60)).await.unwrap();
    let err = c.incr(&k, 1, ttl(60)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAnInteger, "{err}");
    assert!(err.message().starts_with("counter holds a value that is not a decimal"), "{err}");
    assert_eq!(c.get(&k).await.unwrap().as_deref(), Some(&b"abc"[..]), "the value is left as it was");
}

pub(crate) async fn incr_negative_and_overflow(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let k = format!("{ns}n");
    let big = format!("{ns}big");
    c.set(&big, Bytes::from(i64::MAX.to_string()), ttl(60)).await.unwrap();
    // A counter at the top of the range, counted there (a value `set` is sealed).
    let top = format!("{ns}top");
    assert_eq!(c.incr(&top, i64::MAX, ttl(60)).await.unwrap(), i64::MAX);
    let err = c.incr(&top, 1, ttl(60)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAnInteger, "{err}");
    if s.signed_counters {
        assert_eq!(c.incr(&k, -5, ttl(60)).await.unwrap(), -5);
        assert_eq!(c.incr(&k, 7, ttl(60)).await.unwrap(), 2);
        assert_eq!(c.incr(&big, 1, ttl(60)).await.unwrap_err().kind(), ErrorKind::NotAnInteger);
        assert_eq!(c.get(&big).await.unwrap().as_deref(), Some(i64::MAX.to_string().as_bytes()), "left as it was");
        // The same words on every provider, never a driver's report.
        assert!(err.message().starts_with("counter would overflow: adding 1 passes 9223372036854775807"), "{err}");
        assert_eq!(c.get(&top).await.unwrap().as_deref(), Some(i64::MAX.to_string().as_bytes()), "left as it was");
        let low = format!("{ns}low");
        assert_eq!(c.incr(&low, i64::MIN, ttl(60)).await.unwrap(), i64::MIN);
        let err = c.incr(&low, -1, ttl(60)).await.unwrap_err();
        assert!(err.message().starts_with("counter would overflow: adding -1 passes -9223372036854775808"), "{err}");
    } else {
        let refused = c.incr(&k, -5, ttl(60)).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Unsupported, "{refused}");
        assert_eq!(c.get(&k).await.unwrap(), None, "a refused decrement creates nothing");
        assert_eq!(c.incr(&k, 7, ttl(60)).await.unwrap(), 7);
        // The server counts on in unsigned space; pal reports what it cannot represent.
        assert_eq!(c.incr(&big, 1, ttl(60)).await.unwrap_err().kind(), ErrorKind::NotAnInteger);
        assert!(err.message().starts_with("counter overflowed"), "{err}");
    }
}

pub(crate) async fn binary_values(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}bin", namespace()));
    let value: Vec<u8> = vec![0, 159, 146, 150, 0xff, 0xfe, b'\r', b'\n', 0, 0x80];
    assert!(std::str::from_utf8(&value).is_err());
    c.set(&k, value.clone().into(), ttl(60)).await.unwrap();
    assert_eq!(c.get(&k).await.unwrap().as_deref(), Some(&value[..]));
}

pub(crate) async fn empty_value(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}empty", namespace()));
    c.set(&k, Bytes::new(), ttl(60)).await.unwrap();
    assert_eq!(c.get(&k).await.unwrap().as_deref(), Some(&b""[..]), "an empty value is not a miss");
}

pub(crate) async fn one_mebibyte_value(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}big", namespace()));
    let value: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    match s.size_limit {
        Some(limit) if value.len() + 1024 > limit => {
            let err = c.set(&k, value.into(), ttl(60)).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
            assert!(err.to_string().contains(&limit.to_string()), "the error names the limit: {err}");
            assert_eq!(c.get(&k).await.unwrap(), None);
        }
        _ => {
            c.set(&k, value.clone().into(), ttl(60)).await.unwrap();
            assert_eq!(c.get(&k).await.unwrap().as_deref(), Some(&value[..]));
        }
    }
}

/// A value over the cache's limit fails with `ValueTooLarge` naming what sets the
/// limit, and leaves nothing behind (on redis-hybrid, no database copy either).
/// Where the limit is `CACHE_MAX_VALUE_BYTES`, exact whatever sealing adds, the
/// error names the value's size, and a value of exactly the limit is stored (a
/// provider's own limit, such as memcached's item size, also counts the key).
pub(crate) async fn values_over_the_limit_are_refused(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}limit", namespace()));
    let can = c.capabilities();
    let limit = can.max_value_bytes.expect("every cache the factory builds has a value limit");
    let variable = can.max_value_source.split(',').next().unwrap();
    let err = c.set(&k, vec![7u8; limit + 1].into(), ttl(60)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
    let text = err.to_string();
    assert!(text.contains(variable), "names {variable}: {text}");
    assert_eq!(c.get(&k).await.unwrap(), None, "nothing was stored");
    if variable == VALUE_LIMIT.0 {
        assert!(text.contains(&format!("a value of {} bytes", limit + 1)), "names the size: {text}");
        let value: Vec<u8> = (0..limit).map(|i| (i % 253) as u8).collect();
        c.set(&k, value.clone().into(), ttl(60)).await.unwrap();
        assert_eq!(c.get(&k).await.unwrap().as_deref(), Some(&value[..]), "a value of exactly the limit is stored");
    }
}

pub(crate) async fn unicode_keys(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let keys = [format!("{ns}ключ:🔑:名前"), format!("{ns}ключ:🔑:名"), format!("{ns}cle\u{301}"), format!("{ns}clé")];
    for (i, k) in keys.iter().enumerate() {
        c.set(k, Bytes::from(i.to_string()), ttl(60)).await.unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(c.get(k).await.unwrap().as_deref(), Some(i.to_string().as_bytes()), "{k}");
    }
}

pub(crate) async fn ten_thousand_keys(s: &CacheSubject) {
    let ns = namespace();
    let mut tasks = Vec::new();
    for chunk in 0..20 {
        let (c, ns) = (s.cache.clone(), ns.clone());
        tasks.push(tokio::spawn(async move {
            for i in chunk * 500..(chunk + 1) * 500 {
                c.set(&format!("{ns}{i}"), Bytes::from(format!("v{i}")), ttl(120)).await.unwrap();
            }
            for i in chunk * 500..(chunk + 1) * 500 {
                let got = c.get(&format!("{ns}{i}")).await.unwrap();
                assert_eq!(got.as_deref(), Some(format!("v{i}").as_bytes()), "key {i}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Session {
    user_id: u64,
    email: String,
    roles: Vec<String>,
    attributes: BTreeMap<String, serde_json::Value>,
    verified: Option<bool>,
}

pub(crate) async fn session_round_trip(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let id = format!("{ns}sess");
    let session = Session {
        user_id: 42,
        email: "ana@example.com".into(),
        roles: vec!["admin".into(), "ops".into()],
        attributes: BTreeMap::from([
            ("nested".to_string(), serde_json::json!({"a": [1, 2, {"b": null}], "ü": "✓"})),
            ("n".to_string(), serde_json::json!(1.5)),
        ]),
        verified: None,
    };
    c.set_session(&id, &session, ttl(60)).await.unwrap();
    assert_eq!(c.get_session::<Session>(&id).await.unwrap(), Some(session));
    let wrong = c.get_session::<Vec<u8>>(&id).await.unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Decode, "a session of another shape is an error, not a miss");
    assert!(c.delete_session(&id).await.unwrap());
    assert_eq!(c.get_session::<Session>(&id).await.unwrap(), None);
    assert_eq!(c.set_session("", &1, ttl(60)).await.unwrap_err().kind(), ErrorKind::InvalidInput);
}

pub(crate) async fn concurrent_set_get_never_tears(s: &CacheSubject) {
    const SIZE: usize = 64 * 1024;
    let k = format!("{}shared", namespace());
    s.cache.set(&k, vec![0u8; SIZE].into(), ttl(60)).await.unwrap();
    let mut tasks = Vec::new();
    for writer in 1..=4u8 {
        let (c, k) = (s.cache.clone(), k.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                c.set(&k, vec![writer; SIZE].into(), ttl(60)).await.unwrap();
            }
        }));
    }
    for _ in 0..4 {
        let (c, k) = (s.cache.clone(), k.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                let v = c.get(&k).await.unwrap().expect("the key is never missing");
                assert_eq!(v.len(), SIZE);
                assert!(v.iter().all(|b| *b == v[0]), "a read mixed two writes");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

pub(crate) async fn ping(s: &CacheSubject) {
    s.cache.ping().await.unwrap();
    assert!(!s.cache.provider().is_empty());
}

/// The cache reports a registered provider, with the capabilities that provider
/// declares (a configured size limit may replace the declared default, or stand
/// where the declaration leaves the limit to the configuration).
pub(crate) async fn declares_itself(s: &CacheSubject) {
    let provider = s.cache.provider();
    let entry = pal::registry::cache(provider).unwrap_or_else(|| panic!("{provider} is not a registered provider"));
    let expected = pinned(provider);
    for (what, can) in [("declared", entry.provider.capabilities), ("reported", s.cache.capabilities())] {
        assert_eq!(can.leaves_process, expected.leaves_process, "{provider}: leaves_process {what}");
        assert_eq!(can.signed_counters, expected.signed_counters, "{provider}: signed_counters {what}");
        assert_eq!(can.expiry_resolution, expected.expiry_resolution, "{provider}: expiry_resolution {what}");
    }
    assert_eq!(entry.provider.capabilities.max_value_bytes, expected.own_max_value_bytes, "{provider}: declared limit");
    let reported = s.cache.capabilities().max_value_bytes;
    assert!(reported.is_some(), "{provider}: every cache has a value limit (CACHE_MAX_VALUE_BYTES at least)");
    assert!(
        expected.own_max_value_bytes.is_none_or(|own| reported.is_some_and(|r| r <= own)),
        "{provider}: the limit in effect, {reported:?}, is above the provider's own"
    );
}

/// Keys some servers refuse as they are (memcached: spaces, control characters,
/// more than 250 bytes) work on every provider, and stay distinct.
pub(crate) async fn keys_servers_would_reject(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let keys = [
        format!("{ns}with space"),
        format!("{ns}with\ttab"),
        format!("{ns}with\r\nnewline"),
        format!("{ns}with\u{1}control"),
        format!("{ns}{}", "x".repeat(300)),
        format!("{ns}{}", "x".repeat(301)),
        format!("~h:{ns}looks mapped"),
    ];
    for (i, k) in keys.iter().enumerate() {
        c.set(k, Bytes::from(i.to_string()), ttl(60)).await.unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(c.get(k).await.unwrap().as_deref(), Some(i.to_string().as_bytes()), "{k:?}");
        assert!(c.ttl(k).await.unwrap().is_some(), "{k:?}");
        assert_eq!(c.incr(&format!("{k}:n"), 2, ttl(60)).await.unwrap(), 2, "{k:?}");
    }
    assert!(c.delete(&keys[0]).await.unwrap());
    assert_eq!(c.get(&keys[0]).await.unwrap(), None);
    assert_eq!(c.get(&keys[1]).await.unwrap().as_deref(), Some(&b"1"[..]), "deleting one leaves the others");
}

/// Keys differing only in case or in a trailing space are different keys on every
/// provider (Unicode normalization: `unicode_keys`).
pub(crate) async fn keys_differ_by_case_and_trailing_spaces(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let keys = [format!("{ns}sess:AbC"), format!("{ns}sess:abc"), format!("{ns}sess:abc "), format!("{ns}sess:ABC")];
    for (i, k) in keys.iter().enumerate() {
        c.set(k, Bytes::from(format!("token-{i}")), ttl(60)).await.unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(c.get(k).await.unwrap().as_deref(), Some(format!("token-{i}").as_bytes()), "{k:?}");
    }
}
