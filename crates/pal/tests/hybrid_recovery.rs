//! `redis-hybrid` after an outage: what a miss costs the database, and Redis
//! restarted empty under load. (Fresh `pal` processes started once Redis resumes
//! with stale copies, and expired rows leaving the database, are the `pal`
//! binary's `tests/hybrid_recovery.rs`.)

#[macro_use]
mod suite;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pal::cache::hybrid::HybridCache;
use pal::db::{Dialect, Transaction};
use pal::{CacheService, CacheServiceExt, DatabaseService, Row, Value};
use suite::hybrid::{config, migrated, redis_at, run_id, ttl, wait_closed};

/// A database that counts the statements it is sent.
struct Counting {
    inner: Arc<dyn DatabaseService>,
    statements: AtomicU64,
}

#[async_trait]
impl DatabaseService for Counting {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    fn grammar(&self) -> &'static dyn pal::db::grammar::Grammar {
        self.inner.grammar()
    }
    fn target(&self) -> pal::db::DbTarget {
        self.inner.target()
    }
    async fn query(&self, sql: &str, params: &[Value]) -> pal::Result<Vec<Row>> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.inner.query(sql, params).await
    }
    async fn execute(&self, sql: &str, params: &[Value]) -> pal::Result<u64> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.inner.execute(sql, params).await
    }
    async fn begin(&self) -> pal::Result<Box<dyn Transaction>> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.inner.begin().await
    }
    async fn ping(&self) -> pal::Result<()> {
        self.inner.ping().await
    }
    async fn transport(&self) -> pal::Result<pal::tls::Transport> {
        self.inner.transport().await
    }
    async fn migrate(&self, tables: &[pal::db::migrate::Tables]) -> pal::Result<Vec<String>> {
        self.inner.migrate(tables).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_miss_costs_at_most_one_statement_and_concurrent_misses_share_it() {
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let counting = Arc::new(Counting { inner: migrated(&url).await, statements: AtomicU64::new(0) });
    let redis_url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    // Only the calls measured here reach the database: no periodic drain meanwhile.
    let quiet = pal::cache::hybrid::HybridConfig { drain_interval: Duration::from_secs(3600), ..config() };
    let cache = HybridCache::new(redis_at(&redis_url), counting.clone(), quiet);
    cache.drain_journal().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = run_id();
    let before = counting.statements.load(Ordering::Relaxed);
    const MISSES: u64 = 10_000;
    for i in 0..MISSES {
        assert_eq!(cache.get(&format!("session:{run}:never:{i}")).await.unwrap(), None);
    }
    let per_miss = (counting.statements.load(Ordering::Relaxed) - before) as f64 / MISSES as f64;
    eprintln!("{per_miss:.3} database statements per miss (Redis healthy, {MISSES} keys that never existed)");
    assert!(per_miss <= 1.0, "{per_miss} statements per miss");

    // 50 concurrent misses on one key: one database read serves them all.
    let cache = Arc::new(cache);
    let before = counting.statements.load(Ordering::Relaxed);
    let key = format!("session:{run}:hot");
    let readers: Vec<_> = (0..50)
        .map(|_| {
            let (cache, key) = (cache.clone(), key.clone());
            tokio::spawn(async move { cache.get(&key).await.unwrap() })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), None);
    }
    let shared = counting.statements.load(Ordering::Relaxed) - before;
    eprintln!("50 concurrent misses on one key took {shared} database statements");
    assert!(shared < 50, "{shared} statements for 50 concurrent misses of one key");
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_restarted_empty_under_load_loses_nothing_and_hits_again() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let db = migrated(&url).await;
    let port = support::port("REDIS_FAULT_PORT");
    let cache = Arc::new(HybridCache::new(redis_at(&format!("redis://127.0.0.1:{port}")), db, config()));
    let run = run_id();
    const SESSIONS: u64 = 300;
    for i in 0..SESSIONS {
        cache.set_session(&format!("{run}:{i}"), &serde_json::json!({"i": i}), ttl(300)).await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, wrong) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let readers: Vec<_> = (0..8)
        .map(|t| {
            let (cache, stop, reads, wrong, run) =
                (cache.clone(), stop.clone(), reads.clone(), wrong.clone(), run.clone());
            tokio::spawn(async move {
                let mut i = t * 37;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 7919) % SESSIONS;
                    match cache.get_session::<serde_json::Value>(&format!("{run}:{i}")).await {
                        Ok(Some(v)) if v == serde_json::json!({"i": i}) => {}
                        other => {
                            eprintln!("session {i} read as {other:?}");
                            wrong.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    support::kill_redis(&port).await;
    support::ensure("redis");
    let restarted = Instant::now();
    wait_closed(&cache).await;
    // Hit rate per 200 ms window, until one is above the design's 95 % alert threshold.
    let stats = cache.stats();
    let mut recovered = None;
    while restarted.elapsed() < Duration::from_secs(20) {
        let (hits, all) = (stats.redis_hits.load(Ordering::Relaxed), reads.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let hit_rate = (stats.redis_hits.load(Ordering::Relaxed) - hits) as f64
            / (reads.load(Ordering::Relaxed) - all).max(1) as f64;
        if hit_rate > 0.95 {
            recovered = Some((restarted.elapsed(), hit_rate));
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    let (took, hit_rate) = recovered.expect("the hit rate climbs above 95 % again");
    eprintln!(
        "{} reads; hit rate {:.1} % {took:?} after Redis restarted empty",
        reads.load(Ordering::Relaxed),
        hit_rate * 100.0
    );
    assert_eq!(wrong.load(Ordering::Relaxed), 0, "sessions lost or wrong");
    teardown.await;
}
