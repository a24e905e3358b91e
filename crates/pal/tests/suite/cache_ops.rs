//! The cache suite's cases for what applications build on the basic calls:
//! batches, set-if-absent, compare-and-delete, locks and get-or-load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pal::cache::{LoadOptions, Lock, ReadThrough};
use pal::{CacheServiceExt, Error, ErrorKind, Ttl};

use super::cache::CacheSubject;
use super::namespace;

fn ttl(secs: u64) -> Ttl {
    Ttl::from_secs(secs).unwrap()
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

pub(crate) async fn get_with_ttl_reads_both(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let [k, missing] = ["k", "missing"].map(|k| format!("{ns}{k}"));
    c.set(&k, b("v"), ttl(60)).await.unwrap();
    let (value, left) = c.get_with_ttl(&k).await.unwrap().expect("the key is there");
    assert_eq!(value, b("v"));
    assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50), "{left:?}");
    assert_eq!(c.get_with_ttl(&missing).await.unwrap(), None);
    let set_at = Instant::now();
    c.set(&k, b("w"), ttl(1)).await.unwrap();
    let (value, left) = c.get_with_ttl(&k).await.unwrap().unwrap();
    assert_eq!((value, left <= Duration::from_secs(1)), (b("w"), true), "{left:?}");
    tokio::time::sleep(Duration::from_millis(1000).saturating_sub(set_at.elapsed()) + s.expiry_slack).await;
    assert_eq!(c.get_with_ttl(&k).await.unwrap(), None, "expired");
}

pub(crate) async fn batches_keep_order_and_duplicates(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let [a, c_key, missing, x, y] = ["a", "c", "missing", "x", "y"].map(|k| format!("{ns}{k}"));
    c.set(&a, b("A"), ttl(60)).await.unwrap();
    c.set(&c_key, b("C"), ttl(60)).await.unwrap();
    let got = c.get_many(&[&a, &missing, &c_key, &a]).await.unwrap();
    assert_eq!(got, [Some(b("A")), None, Some(b("C")), Some(b("A"))]);
    assert!(c.get_many(&[]).await.unwrap().is_empty(), "an empty batch asks nothing");
    c.set_many(&[], ttl(60)).await.unwrap();
    assert_eq!(c.delete_many(&[]).await.unwrap(), 0);

    c.set_many(&[(&x, b("1")), (&y, b("2")), (&x, b("3"))], ttl(60)).await.unwrap();
    assert_eq!(c.get_many(&[&x, &y]).await.unwrap(), [Some(b("3")), Some(b("2"))], "the later value of a key wins");
    let left = c.ttl(&x).await.unwrap().unwrap();
    assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50), "{left:?}");
    assert_eq!(c.delete_many(&[&x, &y, &x, &missing]).await.unwrap(), 2, "distinct keys that existed");
    assert_eq!(c.get_many(&[&x, &y]).await.unwrap(), [None, None]);
}

/// More keys than one command of any provider carries, spread over every slot
/// or server: split, sent and put back in order.
pub(crate) async fn batches_over_the_limits_are_split(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let keys: Vec<String> = (0..1200).map(|i| format!("{ns}many:{i}")).collect();
    let entries: Vec<(&str, Bytes)> = keys.iter().map(|k| (k.as_str(), b(&format!("v:{k}")))).collect();
    c.set_many(&entries, ttl(60)).await.unwrap();
    let reversed: Vec<&str> = keys.iter().rev().map(String::as_str).collect();
    let got = c.get_many(&reversed).await.unwrap();
    for (key, value) in reversed.iter().zip(&got) {
        assert_eq!(value.as_deref(), Some(format!("v:{key}").as_bytes()), "{key}");
    }
    assert_eq!(c.get(&keys[777]).await.unwrap(), Some(b(&format!("v:{}", keys[777]))));
    assert_eq!(c.delete_many(&reversed).await.unwrap(), 1200);
    assert!(c.get_many(&reversed[..10]).await.unwrap().iter().all(Option::is_none));
}

pub(crate) async fn batch_ttls_expire(s: &CacheSubject) {
    let (c, ns) = (&s.cache, namespace());
    let keys: Vec<String> = (0..20).map(|i| format!("{ns}short:{i}")).collect();
    let entries: Vec<(&str, Bytes)> = keys.iter().map(|k| (k.as_str(), b("v"))).collect();
    c.set_many(&entries, ttl(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1) + s.expiry_slack).await;
    let all: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert!(c.get_many(&all).await.unwrap().iter().all(Option::is_none), "every entry expired");
}

pub(crate) async fn add_stores_only_when_absent(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}k", namespace()));
    assert!(c.add(&k, b("first"), ttl(60)).await.unwrap());
    assert!(!c.add(&k, b("second"), ttl(60)).await.unwrap());
    assert_eq!(c.get(&k).await.unwrap(), Some(b("first")));
    assert!(c.delete(&k).await.unwrap());
    assert!(c.add(&k, b("third"), ttl(1)).await.unwrap(), "a deleted key can be added again");
    tokio::time::sleep(Duration::from_secs(1) + s.expiry_slack).await;
    assert!(c.add(&k, b("fourth"), ttl(60)).await.unwrap(), "an expired key is absent");
    assert_eq!(c.get(&k).await.unwrap(), Some(b("fourth")));

    let contended = format!("{}contended", namespace());
    let adders = (0..20).map(|i| {
        let (c, k) = (c.clone(), contended.clone());
        tokio::spawn(async move { c.add(&k, b(&i.to_string()), ttl(60)).await.unwrap() })
    });
    let won = futures::future::join_all(adders).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 1, "of concurrent adds of one key exactly one stores it");
}

pub(crate) async fn conditional_delete_and_touch_compare_the_value(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}k", namespace()));
    assert!(!c.delete_if(&k, b"v1").await.unwrap(), "a missing key");
    c.set(&k, b("v1"), ttl(30)).await.unwrap();
    assert!(!c.delete_if(&k, b"v2").await.unwrap());
    assert!(!c.touch_if(&k, b"v2", ttl(300)).await.unwrap());
    assert!(c.ttl(&k).await.unwrap().unwrap() <= Duration::from_secs(30), "the other value's touch changed nothing");
    assert!(c.touch_if(&k, b"v1", ttl(300)).await.unwrap());
    assert!(c.ttl(&k).await.unwrap().unwrap() > Duration::from_secs(200));
    assert_eq!(c.get(&k).await.unwrap(), Some(b("v1")), "touch_if keeps the value");
    assert!(c.delete_if(&k, b"v1").await.unwrap());
    assert_eq!(c.get(&k).await.unwrap(), None);
}

pub(crate) async fn locks_exclude_and_fence(s: &CacheSubject) {
    let (c, name) = (&s.cache, format!("{}job", namespace()));
    let first = Lock::try_acquire(c.clone(), &name, ttl(60)).await.unwrap().expect("a free lock is taken");
    assert!(Lock::try_acquire(c.clone(), &name, ttl(60)).await.unwrap().is_none(), "a held lock is not");
    assert!(first.extend(ttl(60)).await.unwrap());
    let token = first.token();
    assert!(first.release().await.unwrap());
    let second = Lock::try_acquire(c.clone(), &name, ttl(1)).await.unwrap().expect("free after release");
    assert!(second.token() > token, "fencing tokens grow: {} after {token}", second.token());

    // The second holder's lease runs out; a third takes the lock, and the stale
    // second can neither extend nor release it.
    tokio::time::sleep(Duration::from_secs(1) + s.expiry_slack).await;
    let third = Lock::acquire(c.clone(), &name, ttl(60), Duration::from_secs(5)).await.unwrap().expect("taken");
    assert!(third.token() > second.token());
    assert!(!second.extend(ttl(60)).await.unwrap(), "a stale holder cannot extend");
    assert!(!second.release().await.unwrap(), "a stale holder cannot release");
    assert!(third.is_held().await.unwrap(), "the new holder keeps the lock");
    let waited = Instant::now();
    assert!(Lock::acquire(c.clone(), &name, ttl(60), Duration::from_millis(300)).await.unwrap().is_none());
    assert!(waited.elapsed() >= Duration::from_millis(300));
    drop(third);
    // Dropped, it is released in the background.
    let again = Lock::acquire(c.clone(), &name, ttl(60), Duration::from_secs(5)).await.unwrap();
    assert!(again.is_some(), "a dropped lock is released");
}

pub(crate) async fn get_or_load_loads_once_for_a_thousand_callers(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}loaded", namespace()));
    let calls = Arc::new(AtomicUsize::new(0));
    let callers = (0..1000).map(|_| {
        let (c, k, calls) = (c.clone(), k.clone(), calls.clone());
        tokio::spawn(async move {
            c.get_or_load(&k, ttl(60), || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(b("from the source"))
            })
            .await
        })
    });
    for outcome in futures::future::join_all(callers).await {
        assert_eq!(outcome.unwrap().unwrap(), b("from the source"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one load for 1 000 concurrent callers");
    assert_eq!(c.get(&k).await.unwrap(), Some(b("from the source")), "the loaded value is cached");
    let typed: Vec<u32> = c.get_or_load_json(&format!("{k}:json"), ttl(60), || async { Ok(vec![1, 2]) }).await.unwrap();
    assert_eq!(typed, [1, 2]);
    assert_eq!(c.get_json::<Vec<u32>>(&format!("{k}:json")).await.unwrap(), Some(vec![1, 2]));
}

pub(crate) async fn read_through_serves_stale_when_the_source_fails(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}fail-safe", namespace()));
    let soft = Duration::from_millis(300);
    let reader = ReadThrough::new(c.clone(), LoadOptions::new(ttl(1)).fail_safe(Duration::from_secs(60), soft));
    let first = reader.get(&k, || async { Ok(b("v1")) }).await.unwrap();
    assert!(!first.stale && first.value == b("v1"));
    tokio::time::sleep(Duration::from_secs(1) + s.expiry_slack).await;

    let failing = || async { Err(Error::new(ErrorKind::Connection, "the source is down")) };
    let stale = reader.get(&k, failing).await.unwrap();
    assert!(stale.stale && stale.value == b("v1"), "past its TTL, the failing source's stale value: {stale:?}");

    let started = Instant::now();
    let slow = || async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(b("v2"))
    };
    let waited = reader.get(&k, slow).await.unwrap();
    assert!(waited.stale && waited.value == b("v1"), "{waited:?}");
    assert!(started.elapsed() < soft + Duration::from_millis(700), "within the soft timeout: {:?}", started.elapsed());

    // The slow load went on and stored its value.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = reader.get(&k, failing).await.unwrap();
        if !now.stale {
            assert_eq!(now.value, b("v2"));
            break;
        }
        assert!(Instant::now() < deadline, "the recovered source's value replaces the stale one");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing = format!("{}never", namespace());
    let e = reader.get(&missing, failing).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "without a stale value the loader's error is the answer");
}

pub(crate) async fn read_through_refreshes_early(s: &CacheSubject) {
    let (c, k) = (&s.cache, format!("{}early", namespace()));
    let reader = ReadThrough::new(c.clone(), LoadOptions::new(ttl(2)).early_refresh(0.5));
    assert_eq!(reader.get(&k, || async { Ok(b("v1")) }).await.unwrap().value, b("v1"));
    let fresh = reader.get(&k, || async { Ok(b("not yet")) }).await.unwrap();
    assert_eq!(fresh.value, b("v1"), "well within its TTL: no load");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Less than half its TTL left: served at once, refreshed behind.
    let hit = reader.get(&k, || async { Ok(b("v2")) }).await.unwrap();
    assert!(!hit.stale && hit.value == b("v1"), "{hit:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while reader.get(&k, || async { Ok(b("v2")) }).await.unwrap().value != b("v2") {
        assert!(Instant::now() < deadline, "the background refresh stored its value");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
