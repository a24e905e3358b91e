//! redis-hybrid throughput against the sealed Redis adapter alone, in one run on
//! the same Redis and PostgreSQL: SET and GET of 256-byte sealed values from 50
//! and 256 concurrent tasks, rounds alternating between the contestants.
//!
//! Writes are measured four ways, to choose how the database copy is committed:
//! - `hybrid`: what pal does, group commit with the server's synchronous commit;
//! - `hybrid, async commit`: the same with `synchronous_commit=off` on the pool;
//! - `per-call copy`: the previous design, one upsert per write, then Redis;
//! - `per-call copy, async commit`: that with `synchronous_commit=off`.
//!
//! Then the latency of misses (keys that never existed, one task) and of hits.
//! First, writes of 16 keys shared by 50 tasks (`-- same-keys` runs only those).
//!
//! `scripts/services up && cargo bench -p pal --bench hybrid_throughput`

mod common;
use pal_test_support::ports;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use common::{median, round_of};
use pal::expiring::{ExpiringStore, SqlExpiringStore};
use pal::{CacheService, DatabaseService, Settings, Ttl};

const ROUNDS: usize = 5;
const KEYS: usize = 10_000;
const SEALING: [(&str, &str); 2] = [
    ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc="),
    ("CACHE_ENCRYPTION_KEYS", "b1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg="),
];

async fn cache(provider: &str, url: &str) -> Arc<dyn CacheService> {
    let redis = ports::redis_url();
    let mut vars = vec![("CACHE_PROVIDER", provider), ("REDIS_URL", redis.as_str()), ("DB_PROVIDER", "postgresql")];
    vars.push(("DATABASE_URL", url));
    vars.extend(SEALING);
    pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap()
}

async fn database(url: &str) -> Arc<dyn DatabaseService> {
    let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", url)];
    pal::factory::build_database(&Settings::from_vars(vars).unwrap()).await.unwrap()
}

#[derive(Clone)]
enum Writer {
    Cache(Arc<dyn CacheService>),
    /// The previous design: the copy upserted on its own, then the sealed Redis set.
    PerCall(Arc<SqlExpiringStore>, Arc<dyn CacheService>),
}

async fn write(w: &Writer, key: String, value: Bytes) {
    let ttl = Ttl::from_secs(300).unwrap();
    match w {
        Writer::Cache(c) => c.set(&key, value, ttl).await.unwrap(),
        Writer::PerCall(store, redis) => {
            let expires_at = Utc::now() + chrono::Duration::seconds(300);
            store.upsert(&key, &value, expires_at).await.unwrap();
            redis.set(&key, value, ttl).await.unwrap();
        }
    }
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(v[v.len() / 2]), ms(v[(v.len() * 99 / 100).min(v.len() - 1)]))
}

async fn latencies(cache: &Arc<dyn CacheService>, keys: impl Iterator<Item = String>) -> (f64, f64) {
    let mut times = Vec::new();
    for key in keys {
        let started = Instant::now();
        cache.get(&key).await.unwrap();
        times.push(started.elapsed());
    }
    percentiles(times)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let schema = format!("pal_bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let admin = database(&ports::postgres_url()).await;
        admin.execute(&format!("CREATE SCHEMA {schema}"), &[]).await.unwrap();
        let url = format!("{}?options=-c%20search_path%3D{schema}", ports::postgres_url());
        let async_url = format!("{url}%20-c%20synchronous_commit%3Doff");
        database(&url).await.migrate(pal::db::migrate::Tables::ALL).await.unwrap();

        let redis = cache("redis", &url).await;
        let hybrid = cache("redis-hybrid", &url).await;
        let writers = [
            ("sealed redis", Writer::Cache(redis.clone())),
            ("hybrid", Writer::Cache(hybrid.clone())),
            ("hybrid, async commit", Writer::Cache(cache("redis-hybrid", &async_url).await)),
            ("per-call copy", Writer::PerCall(Arc::new(SqlExpiringStore::new(database(&url).await)), redis.clone())),
            (
                "per-call copy, async commit",
                Writer::PerCall(Arc::new(SqlExpiringStore::new(database(&async_url).await)), redis.clone()),
            ),
        ];
        let value = Bytes::from(vec![b'v'; 256]);

        // Same-key writes: 50 tasks writing the same 16 keys at once (a hot session,
        // a shared snapshot), where two flushers could fight over one row.
        let mut same = [Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            for (n, (_, w)) in writers[..2].iter().enumerate() {
                let (w, value) = (w.clone(), value.clone());
                same[n].push(
                    round_of(50, move |_, i| {
                        let (w, value) = (w.clone(), value.clone());
                        async move { write(&w, format!("bench:hybrid:hot:{}", i % 16), value).await }
                    })
                    .await,
                );
            }
        }
        let (redis_same, hybrid_same) = (median(same[0].clone()), median(same[1].clone()));
        println!(
            "SET of 16 shared keys, 50 tasks: sealed redis {redis_same:.0} ops/s, hybrid {hybrid_same:.0} ops/s ({:.3}x)",
            hybrid_same / redis_same
        );
        if std::env::args().any(|a| a == "same-keys") {
            admin.execute(&format!("DROP SCHEMA {schema} CASCADE"), &[]).await.unwrap();
            return;
        }

        for tasks in [50, 256] {
            let mut sets = vec![Vec::new(); writers.len()];
            for _ in 0..ROUNDS {
                for (n, (_, w)) in writers.iter().enumerate() {
                    let (w, value) = (w.clone(), value.clone());
                    sets[n].push(
                        round_of(tasks, move |t, i| {
                            let (w, value) = (w.clone(), value.clone());
                            async move { write(&w, common::key("bench:hybrid:", t, i, KEYS), value).await }
                        })
                        .await,
                    );
                }
            }
            let mut gets = [Vec::new(), Vec::new()];
            for _ in 0..ROUNDS {
                for (n, c) in [&redis, &hybrid].into_iter().enumerate() {
                    let c = c.clone();
                    gets[n].push(
                        round_of(tasks, move |t, i| {
                            let c = c.clone();
                            async move { drop(c.get(&common::key("bench:hybrid:", t, i, KEYS)).await.unwrap()) }
                        })
                        .await,
                    );
                }
            }
            let base = median(sets[0].clone());
            println!("SET, {tasks} tasks, 256-byte sealed values (median of {ROUNDS} rounds)");
            for (n, (name, _)) in writers.iter().enumerate() {
                let ops = median(sets[n].clone());
                println!("  {name:30} {ops:>10.0} ops/s   {:.2}x sealed redis", ops / base);
            }
            let (redis_get, hybrid_get) = (median(gets[0].clone()), median(gets[1].clone()));
            println!("GET, {tasks} tasks: sealed redis {redis_get:.0} ops/s, hybrid {hybrid_get:.0} ops/s ({:.2}x)", hybrid_get / redis_get);
        }

        let hits = |n: usize| (0..n).map(|i| common::key("bench:hybrid:", 0, i, KEYS));
        let misses = |n: usize| (0..n).map(|i| format!("bench:never:{}:{i}", Utc::now().timestamp_nanos_opt().unwrap_or(0)));
        for _ in 0..2 {
            let (rh50, rh99) = latencies(&redis, hits(5000)).await;
            let (hh50, hh99) = latencies(&hybrid, hits(5000)).await;
            let (m50, m99) = latencies(&hybrid, misses(5000)).await;
            println!(
                "latency, one task: hit sealed redis p50 {rh50:.3} ms p99 {rh99:.3} ms; hit hybrid p50 {hh50:.3} ms p99 {hh99:.3} ms; miss hybrid p50 {m50:.3} ms p99 {m99:.3} ms"
            );
        }
        admin.execute(&format!("DROP SCHEMA {schema} CASCADE"), &[]).await.unwrap();
    });
}
