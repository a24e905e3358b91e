//! The cache conformance suite on a standalone Redis, built from the environment
//! variables an application would set.

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_cache;
use suite::cache::CacheSubject;

async fn redis_with(sealing: &[(&str, &str)]) -> CacheSubject {
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let mut vars = vec![
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_URL", url.as_str()),
        suite::cache::VALUE_LIMIT,
    ];
    vars.extend_from_slice(sealing);
    let cache = build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    assert_eq!(cache.provider(), "redis");
    CacheSubject::new(cache)
}

async fn redis() -> CacheSubject {
    redis_with(&support::SEALING).await
}

cache_conformance!(redis);

/// The same cases with `CACHE_INSECURE_NO_ENCRYPTION=true`: keys and values as given.
mod plaintext {
    use super::*;
    async fn redis_plaintext() -> CacheSubject {
        redis_with(&[support::PLAINTEXT]).await
    }
    cache_conformance!(redis_plaintext);
}

/// Three cache instances on one Redis, as three processes would each have, with
/// the cross-process guard: 100 callers of one missing key on each, and the
/// source is asked once in all. Without the guard each instance asks once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_load_once_with_the_cross_process_guard() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use pal::Ttl;
    use pal::cache::{LoadOptions, ReadThrough};

    async fn callers(options: LoadOptions, key: String) -> usize {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let reader = ReadThrough::new(redis().await.cache, options);
            for _ in 0..100 {
                let (reader, key, calls) = (reader.clone(), key.clone(), calls.clone());
                tasks.push(tokio::spawn(async move {
                    reader
                        .get(&key, move || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            Ok(bytes::Bytes::from_static(b"loaded"))
                        })
                        .await
                }));
            }
        }
        for task in futures::future::join_all(tasks).await {
            assert_eq!(task.unwrap().unwrap().value, bytes::Bytes::from_static(b"loaded"));
        }
        calls.load(Ordering::SeqCst)
    }
    let ttl = Ttl::from_secs(60).unwrap();
    let guarded = LoadOptions::new(ttl).across_processes(Duration::from_secs(10));
    assert_eq!(callers(guarded, format!("{}guarded", suite::namespace())).await, 1, "one load across instances");
    let alone = callers(LoadOptions::new(ttl), format!("{}alone", suite::namespace())).await;
    assert!((1..=3).contains(&alone), "one load per instance at most: {alone}");
}
