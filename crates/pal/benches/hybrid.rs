//! `get_session` latency of `redis-hybrid`, in one run: Redis healthy; Redis
//! blackholed with the breaker open; and the original design's sketch emulated on
//! the same blackholed Redis (every call tries Redis 3 times with 100·n ms sleeps
//! between attempts, then reads the database). Prints p50 and p99 of each.
//!
//! `scripts/services up && cargo bench -p pal --bench hybrid`

use pal_test_support::{ports, proxy};

use std::sync::Arc;
use std::time::{Duration, Instant};

use pal::cache::hybrid::{BreakerState, HybridCache, HybridConfig};
use pal::cache::redis::{self as redis_provider, RedisCache, RedisTopology, Timeouts};
use pal::env::ConnUrl;
use pal::expiring::{ExpiringStore, SqlExpiringStore};
use pal::{CacheService, CacheServiceExt, DatabaseService, Settings, Ttl};
use proxy::{FaultProxy, Mode};

const COMMAND_TIMEOUT: Duration = Duration::from_millis(300);

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

async fn measure<F, Fut>(n: usize, mut op: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        op(i).await;
        times.push(started.elapsed());
    }
    percentiles(times)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let schema = format!("pal_bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let admin_url = &ports::postgres_url();
        let settings = |url: &str| {
            Settings::from_vars([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", url)])
                .unwrap()
        };
        let admin = pal::factory::build_database(&settings(admin_url)).await.unwrap();
        admin.execute(&format!("CREATE SCHEMA {schema}"), &[]).await.unwrap();
        let url = format!("{admin_url}?options=-c%20search_path%3D{schema}");
        let db: Arc<dyn DatabaseService> = pal::factory::build_database(&settings(&url)).await.unwrap();
        db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();

        let proxy = FaultProxy::start(format!("127.0.0.1:{}", ports::port("REDIS_PORT")).parse().unwrap()).await;
        let timeouts = Timeouts { connect: COMMAND_TIMEOUT, command: COMMAND_TIMEOUT };
        let topology = RedisTopology::Standalone(ConnUrl::parse(&proxy.url("redis"), &["redis"]).unwrap());
        let redis: Arc<dyn CacheService> =
            Arc::new(RedisCache::new(&redis_provider::PROVIDER, &topology, timeouts).unwrap());
        let sessions = SqlExpiringStore::new(db.clone());
        let config = HybridConfig {
            write_through: true,
            attempts: 3,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(60),
            drain_interval: Duration::from_secs(60),
            journal_wait: Duration::from_secs(2),
            purge_interval: Duration::from_secs(60),
        };
        let hybrid = HybridCache::new(redis.clone(), db.clone(), config);
        let session = serde_json::json!({"user_id": 42, "email": "ana@example.com", "roles": ["user"]});
        for i in 0..100 {
            hybrid.set_session(&format!("bench:{i}"), &session, Ttl::from_secs(600).unwrap()).await.unwrap();
        }

        let healthy = measure(2000, |i| {
            let h = &hybrid;
            async move {
                h.get_session::<serde_json::Value>(&format!("bench:{}", i % 100)).await.unwrap().unwrap();
            }
        })
        .await;

        proxy.set(Mode::Blackhole);
        while hybrid.breaker_state() == BreakerState::Closed {
            let _ = hybrid.get_session::<serde_json::Value>("bench:0").await;
        }
        let open = measure(2000, |i| {
            let h = &hybrid;
            async move {
                h.get_session::<serde_json::Value>(&format!("bench:{}", i % 100)).await.unwrap().unwrap();
            }
        })
        .await;

        // The sketch: per call, Redis up to 3 times with 100·n ms sleeps, then the database.
        let sketch = measure(20, |i| {
            let (redis, sessions) = (&redis, &sessions);
            async move {
                let key = format!("session:bench:{}", i % 100);
                for attempt in 1..=3u64 {
                    if redis.get(&key).await.is_ok() {
                        return;
                    }
                    if attempt < 3 {
                        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    }
                }
                sessions.get(&key).await.unwrap().unwrap();
            }
        })
        .await;
        proxy.set(Mode::Pass);

        println!("get_session latency (Redis command timeout {COMMAND_TIMEOUT:?})");
        for (name, (p50, p99)) in [
            ("Redis healthy", healthy),
            ("Redis blackholed, breaker open", open),
            ("sketch: retry per call, blackholed", sketch),
        ] {
            println!("{name:36} p50 {:>9.3} ms   p99 {:>9.3} ms", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);
        }
        admin.execute(&format!("DROP SCHEMA {schema} CASCADE"), &[]).await.unwrap();
    });
}
