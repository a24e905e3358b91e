//! `redis-hybrid` after an outage, as an operator meets it: fresh `pal cache get`
//! processes and a fresh `pal serve` started once Redis resumes with stale copies,
//! and expired rows leaving the database, by the instances and by `pal purge`.
//! (The library's `tests/hybrid_recovery.rs` has the rest.)

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pal::cache::hybrid::HybridCache;
use pal::cache::redis::{self as redis_provider, RedisCache};
use pal::{CacheService, CacheServiceExt, DatabaseService, Settings};
use support::hybrid::{config, migrated, redis_address, run_id, ttl};

fn redis_at(url: &str) -> Arc<dyn CacheService> {
    let (topology, timeouts) = redis_address(url);
    Arc::new(RedisCache::new(&redis_provider::PROVIDER, &topology, timeouts).unwrap())
}

async fn journal_size(db: &Arc<dyn DatabaseService>) -> i64 {
    db.query("SELECT COUNT(*) AS n FROM pal_cache_journal", &[]).await.unwrap()[0].get("n").unwrap()
}

/// Writes and deletes sessions through a hybrid while Redis hangs, after writing
/// `old` copies while it was up; returns what each session should now read as.
async fn change_during_a_hang(vars: &[(&str, &str)], ids: &[String]) -> HashMap<String, Option<serde_json::Value>> {
    let port = support::port("REDIS_FAULT_PORT");
    let a = pal::factory::build_cache(&Settings::from_vars(vars.iter().copied()).unwrap()).await.unwrap();
    for id in ids {
        a.set_session(id, &serde_json::json!({"v": "old"}), ttl(300)).await.unwrap();
    }
    let hung = support::Continue(support::pid_of(&port));
    support::signal(hung.0, "STOP");
    let mut expected = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if i % 4 == 0 {
            a.delete_session(id).await.unwrap();
            expected.insert(id.clone(), None);
        } else {
            let new = serde_json::json!({"v": "new", "i": i});
            a.set_session(id, &new, ttl(300)).await.unwrap();
            expected.insert(id.clone(), Some(new));
        }
    }
    // The writer goes away before Redis resumes, as a process that exited would.
    drop(a);
    drop(hung);
    expected
}

/// Redis resumed with the copies written before the hang: what plain Redis reads.
async fn redis_copy(vars: &[(&str, &str)], id: &str) -> Option<serde_json::Value> {
    let mut plain: Vec<(&str, &str)> = vars.iter().copied().filter(|(k, _)| *k != "CACHE_PROVIDER").collect();
    plain.push(("CACHE_PROVIDER", "redis"));
    let redis = pal::factory::build_cache(&Settings::from_vars(plain).unwrap()).await.unwrap();
    support::eventually(Duration::from_secs(5), || async { redis.ping().await.is_ok() }).await;
    redis.get_session(id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fresh_processes_never_read_what_changed_during_a_hang() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let db = migrated(&url).await;
    let redis_url = format!("redis://127.0.0.1:{}", support::port("REDIS_FAULT_PORT"));
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &redis_url),
        ("REDIS_CONNECT_TIMEOUT_MS", "300"),
        ("REDIS_COMMAND_TIMEOUT_MS", "300"),
        ("CACHE_BREAKER_FAILURE_THRESHOLD", "1"),
        ("CACHE_BREAKER_COOLDOWN_MS", "60000"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &url),
    ]);
    let run = run_id();

    // 20 fresh `pal cache get` processes, one per session.
    let ids: Vec<String> = (0..20).map(|i| format!("{run}:cli:{i}")).collect();
    let expected = change_during_a_hang(&vars, &ids).await;
    assert_eq!(journal_size(&db).await, 20, "every change was journaled");
    assert_eq!(redis_copy(&vars, &ids[1]).await, Some(serde_json::json!({"v": "old"})), "Redis kept its old copy");
    let mut stale = Vec::new();
    for id in &ids {
        let out = support::pal_command()
            .envs(vars.iter().copied())
            .args(["cache", "get", &format!("session:{id}")])
            .output()
            .unwrap();
        let read = match out.status.code() {
            Some(0) => Some(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()),
            Some(1) => None,
            other => panic!("pal cache get exited with {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        };
        if read != expected[id] {
            stale.push(format!("{id}: read {read:?}, expected {:?}", expected[id]));
        }
    }
    assert!(stale.is_empty(), "stale or resurrected reads:\n{}", stale.join("\n"));
    assert_eq!(journal_size(&db).await, 0, "the first process drained the journal");
    let old = Some(serde_json::json!({"v": "old"}));
    for id in &ids {
        assert_ne!(redis_copy(&vars, id).await, old, "{id}: the stale copy is gone from Redis");
    }

    // A freshly started `pal serve` reconciles Redis before it is ready.
    let ids: Vec<String> = (0..10).map(|i| format!("{run}:serve:{i}")).collect();
    change_during_a_hang(&vars, &ids).await;
    assert_eq!(journal_size(&db).await, 10);
    assert_eq!(redis_copy(&vars, &ids[1]).await, Some(serde_json::json!({"v": "old"})));
    let port = support::free_port().to_string();
    let mut serve = support::pal_command()
        .envs(vars.iter().copied())
        .env("PORT", &port)
        .arg("serve")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let drained = support::eventually(Duration::from_secs(10), || async { journal_size(&db).await == 0 }).await;
    let _ = std::process::Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let _ = serve.wait();
    let drained = drained.expect("pal serve drained the journal at start-up");
    eprintln!("pal serve reconciled Redis {drained:?} after it was started");
    for id in &ids {
        assert_ne!(redis_copy(&vars, id).await, old, "{id}: no stale copy left in Redis");
    }
    teardown.await;
}

/// The rows left in a table, counted with sqlx directly rather than through pal.
async fn rows_in(url: &str, table: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_rows_leave_the_database_within_one_purge_interval() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let db = migrated(&url).await;
    // Writes with Redis unusable, so values and counters land in the database.
    let proxy =
        support::proxy::FaultProxy::start(format!("127.0.0.1:{}", support::port("REDIS_PORT")).parse().unwrap()).await;
    proxy.set(support::proxy::Mode::Reset);
    let writer = HybridCache::new(redis_at(&proxy.url("redis")), db.clone(), config());
    for i in 0..100 {
        writer.set(&format!("purge:v{i}"), "x".into(), pal::Ttl::from_millis(1000).unwrap()).await.unwrap();
        writer.incr(&format!("purge:c{i}"), 1, pal::Ttl::from_millis(1000).unwrap()).await.unwrap();
    }
    assert_eq!((rows_in(&url, "pal_sessions").await, rows_in(&url, "pal_cache_counters").await), (100, 100));

    // The purgers cannot reach Redis either: with Redis up, their start-up drain
    // would move the journaled counters back to Redis instead.
    const PURGE_MS: u64 = 500;
    let purgers: Vec<HybridCache> = (0..3)
        .map(|_| {
            let config =
                pal::cache::hybrid::HybridConfig { purge_interval: Duration::from_millis(PURGE_MS), ..config() };
            HybridCache::new(redis_at(&proxy.url("redis")), db.clone(), config)
        })
        .collect();
    let written = Instant::now();
    let gone = support::eventually(Duration::from_millis(1000 + PURGE_MS + 1500), || async {
        rows_in(&url, "pal_sessions").await + rows_in(&url, "pal_cache_counters").await == 0
    })
    .await
    .expect("expired rows are purged");
    eprintln!("expired rows gone {:?} after they were written with a 1 s TTL", written.elapsed());
    assert!(written.elapsed() <= Duration::from_millis(1000 + PURGE_MS + 500), "{gone:?}");
    let each: Vec<u64> = purgers.iter().map(|p| p.stats().purged_rows.load(Ordering::Relaxed)).collect();
    eprintln!("purged per instance: {each:?}, by the writer: {}", writer.stats().purged_rows.load(Ordering::Relaxed));
    let purged: u64 = each.iter().sum();
    assert_eq!(purged, 200, "three instances purging at once delete each row once, without errors");

    // `pal purge` does the same once, for an operator.
    for i in 0..5 {
        writer.set(&format!("purge:cli{i}"), "x".into(), pal::Ttl::from_millis(200).unwrap()).await.unwrap();
    }
    drop(purgers);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = support::pal_command()
        .envs([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", url.as_str())])
        .arg("purge")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("pal_sessions: 5 expired rows deleted"), "{text}");
    assert_eq!(rows_in(&url, "pal_sessions").await, 0);
    teardown.await;
}
