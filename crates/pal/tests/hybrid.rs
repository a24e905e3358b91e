//! `redis-hybrid` against real Redis and real PostgreSQL, with real faults: Redis
//! killed under load, blackholed, restarted empty, and the database stopped while
//! Redis is up. (A partition that kept Redis' data, read back by fresh `pal`
//! processes, is the `pal` binary's `tests/hybrid.rs`.)

#[macro_use]
mod suite;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pal::CacheServiceExt;
use pal::cache::hybrid::BreakerState;
use pal::expiring::{ExpiringStore, SqlExpiringStore};
use suite::cache::CacheSubject;
use support::proxy::{FaultProxy, Mode};

use suite::hybrid::{hybrid, migrated, run_id, ttl, wait_closed};

// ---------------------------------------------------------------------------

mod conformance {
    use super::*;

    async fn redis_hybrid() -> CacheSubject {
        let (url, schema) = suite::servers::guarded_postgres_schema().await;
        migrated(&url).await;
        let redis_url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
        let vars = support::sealed(&[
            ("CACHE_PROVIDER", "redis-hybrid"),
            ("REDIS_URL", &redis_url),
            ("DB_PROVIDER", "postgresql"),
            ("DATABASE_URL", &url),
            suite::cache::VALUE_LIMIT,
        ]);
        let cache = pal::factory::build_cache(&pal::Settings::from_vars(vars).unwrap()).await.unwrap();
        assert_eq!(cache.provider(), "redis-hybrid");
        // The schema is dropped when the subject goes.
        CacheSubject { guard: Some(Box::new(schema)), ..CacheSubject::new(cache) }
    }

    cache_conformance!(redis_hybrid);
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_under_load_loses_nothing_acknowledged() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let db = migrated(&url).await;
    let port = support::port("REDIS_FAULT_PORT");
    let cache = hybrid(&format!("redis://127.0.0.1:{port}"), &db);
    let run = run_id();
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..20 {
        let (cache, stop, errors, run) = (cache.clone(), stop.clone(), errors.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = HashMap::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("{run}:{t}:{}", i % 25);
                let session = serde_json::json!({ "task": t, "write": i });
                match cache.set_session(&id, &session, ttl(120)).await {
                    Ok(()) => {
                        acknowledged.insert(id.clone(), session.clone());
                    }
                    Err(e) => {
                        eprintln!("write error: {e}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                match cache.get_session::<serde_json::Value>(&id).await {
                    Ok(Some(read)) if Some(&read) == acknowledged.get(&id) => {}
                    other => {
                        eprintln!("read of {id} gave {other:?}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 1;
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    support::kill_redis(&port).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = HashMap::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    let fallbacks = cache.stats().fallbacks.load(Ordering::Relaxed);
    eprintln!("{} sessions acknowledged, {fallbacks} calls served by the database", acknowledged.len());
    assert_eq!(errors.load(Ordering::Relaxed), 0, "callers saw errors");
    assert!(fallbacks > 0, "the database served calls while Redis was dead");

    // Redis comes back empty: every acknowledged session is still readable.
    support::ensure("redis");
    for (id, session) in &acknowledged {
        assert_eq!(cache.get_session::<serde_json::Value>(id).await.unwrap().as_ref(), Some(session), "{id}");
    }
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blackholed_redis_costs_nothing_once_the_breaker_is_open() {
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let db = migrated(&url).await;
    let target = format!("127.0.0.1:{}", support::port("REDIS_PORT")).parse().unwrap();
    let proxy = FaultProxy::start(target).await;
    let cache = hybrid(&proxy.url("redis"), &db);
    let run = run_id();
    for i in 0..50 {
        cache.set_session(&format!("{run}:{i}"), &serde_json::json!({"i": i}), ttl(120)).await.unwrap();
    }
    proxy.set(Mode::Blackhole);
    support::eventually(Duration::from_secs(10), || async {
        let _ = cache.get_session::<serde_json::Value>(&format!("{run}:0")).await;
        cache.breaker_state() != BreakerState::Closed
    })
    .await
    .expect("the breaker opens");
    // The database's own latency for the same reads is the yardstick, measured in
    // alternation with the hybrid's so that load on the machine hits both alike.
    let sessions = SqlExpiringStore::new(db.clone());
    let (mut db_times, mut times) = (Vec::new(), Vec::new());
    for i in 0..400 {
        let started = Instant::now();
        sessions.get(&format!("session:{run}:{}", i % 50)).await.unwrap().unwrap();
        db_times.push(started.elapsed());
        let started = Instant::now();
        let got: Option<serde_json::Value> = cache.get_session(&format!("{run}:{}", i % 50)).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(got, Some(serde_json::json!({"i": i % 50})));
    }
    db_times.sort();
    times.sort();
    let at = |v: &[Duration], pct: usize| v[v.len() * pct / 100];
    let (db_p50, p50, db_p99, p99) = (at(&db_times, 50), at(&times, 50), at(&db_times, 99), at(&times, 99));
    eprintln!(
        "with Redis blackholed and the breaker open: p50 {p50:?}, p99 {p99:?} (database alone: p50 {db_p50:?}, p99 {db_p99:?})"
    );
    // A call that still tried Redis would wait for its command timeout (1 s). The
    // median is the cost of the path; the tail, on a loaded machine, is mostly
    // the scheduler's, so it gets room in proportion, not a few milliseconds.
    assert!(p50 <= db_p50 * 5 / 4 + Duration::from_millis(1), "p50 {p50:?} against the database's {db_p50:?}");
    assert!(p99 <= db_p99 * 2 + Duration::from_millis(5), "p99 {p99:?} against the database's {db_p99:?}");
    proxy.set(Mode::Pass);
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_restarted_empty_is_repopulated_with_the_remaining_ttl() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let db = migrated(&url).await;
    let port = support::port("REDIS_FAULT_PORT");
    let cache = hybrid(&format!("redis://127.0.0.1:{port}"), &db);
    let run = run_id();
    for i in 0..10 {
        cache.set_session(&format!("{run}:{i}"), &serde_json::json!({"i": i}), ttl(60)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    support::kill_redis(&port).await;
    support::ensure("redis");
    let mut raw = support::node(&port).await;
    let keys: Vec<String> = support::scan(&mut raw, &format!("session:{run}:*")).await;
    assert!(keys.is_empty(), "Redis restarted empty");
    wait_closed(&cache).await;
    for i in 0..10 {
        let id = format!("{run}:{i}");
        let got: Option<serde_json::Value> = cache.get_session(&id).await.unwrap();
        assert_eq!(got, Some(serde_json::json!({"i": i})));
    }
    for i in 0..10 {
        let pttl: i64 = redis::cmd("PTTL").arg(format!("session:{run}:{i}")).query_async(&mut raw).await.unwrap();
        // Written with 60 s about 2.x s ago: the remaining TTL, not a fresh 60 s.
        assert!((56_000..=58_500).contains(&pttl), "re-populated with {pttl} ms");
    }
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_down_while_redis_is_up() {
    let _lock = suite::servers::exclusive("postgres_fault");
    suite::servers::services("start", "postgres_fault");
    let _restart = suite::servers::Restart("postgres_fault");
    let db = suite::servers::database(
        "postgresql",
        &suite::servers::postgres_fault(),
        &[("DB_POOL_ACQUIRE_TIMEOUT_MS", "500"), ("DB_STATEMENT_TIMEOUT_MS", "500")],
    )
    .await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let cache = hybrid(&format!("redis://127.0.0.1:{}", support::port("REDIS_PORT")), &db);
    let run = run_id();
    cache.set_session(&format!("{run}:a"), &"alpha", ttl(60)).await.unwrap();

    suite::servers::services("stop", "postgres_fault");
    let got: Option<String> = cache.get_session(&format!("{run}:a")).await.unwrap();
    assert_eq!(got.as_deref(), Some("alpha"), "reads are served by Redis");
    // Writes still succeed on Redis; the missing database copy is counted, not hidden.
    cache.set_session(&format!("{run}:b"), &"beta", ttl(60)).await.unwrap();
    assert!(cache.stats().database_write_failures.load(Ordering::Relaxed) >= 1);
    // A delete must reach the database too, or a later Redis miss would resurrect it.
    let err = cache.delete_session(&format!("{run}:a")).await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert_eq!(cache.breaker_state(), BreakerState::Closed, "a database outage does not open the Redis breaker");

    suite::servers::services("start", "postgres_fault");
    support::eventually(Duration::from_secs(10), || async { cache.delete_session(&format!("{run}:a")).await.is_ok() })
        .await
        .expect("deletes work again once the database is back");
    assert_eq!(cache.get_session::<String>(&format!("{run}:a")).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn re_population_racing_a_delete_never_resurrects() {
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let db = migrated(&url).await;
    let port = support::port("REDIS_PORT");
    let deleter = hybrid(&format!("redis://127.0.0.1:{port}"), &db);
    // The reader's Redis is slow, so its re-population lands after the delete that
    // raced it: the window a cache-aside re-population must not fall into.
    let proxy = FaultProxy::start(format!("127.0.0.1:{port}").parse().unwrap()).await;
    proxy.set_latency(Duration::from_millis(20));
    let reader = hybrid(&proxy.url("redis"), &db);
    let run = run_id();
    let ids: Vec<String> = (0..20).map(|i| format!("{run}:{i}")).collect();
    let mut raw = support::node(&port).await;
    let mut raced = 0;
    for id in &ids {
        deleter.set_session(id, &"v", ttl(120)).await.unwrap();
        // Evicted behind pal's back, so the reader takes the re-population path.
        let _: () = redis::cmd("DEL").arg(format!("session:{id}")).query_async(&mut raw).await.unwrap();
    }
    for id in &ids {
        let read = tokio::spawn({
            let (reader, id) = (reader.clone(), id.clone());
            async move { reader.get_session::<String>(&id).await }
        });
        // The reader's GET takes 40 ms through the proxy; then it reads the database.
        tokio::time::sleep(Duration::from_millis(42)).await;
        deleter.delete_session(id).await.unwrap();
        // Either before the delete or after it; never an error, never another value.
        match read.await.unwrap() {
            Ok(Some(v)) if v == "v" => raced += 1,
            Ok(None) => {}
            other => panic!("the racing read of {id} gave {other:?}"),
        }
    }
    eprintln!("{raced} of {} reads read the value just before its delete", ids.len());
    for id in &ids {
        assert_eq!(deleter.get_session::<String>(id).await.unwrap(), None, "{id} came back after its delete");
        let raw_value: Option<Vec<u8>> =
            redis::cmd("GET").arg(format!("session:{id}")).query_async(&mut raw).await.unwrap();
        assert_eq!(raw_value, None, "{id} is back in Redis");
    }
    teardown.await;
}
