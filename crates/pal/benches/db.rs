//! ExpiringStore upsert + get through pal against the same two statements on a raw
//! sqlx pool, on the same server in the same run: the difference is what the
//! abstraction costs (placeholder checks, typed binding, row decoding, bounds).
//! Each timed operation of one side alternates with an untimed one of the other
//! (see `interleaved`), so noise from other work on the machine hits both alike.
//! Needs the shared servers: `scripts/services up && cargo bench -p pal --bench db`, then
//! `scripts/bench-ratios` compares `pal` with `raw_sqlx` in each group.

use pal_test_support::ports;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as ChronoDuration, NaiveDateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pal::expiring::{ExpiringRecord, ExpiringStore, SqlExpiringStore};
use pal::{DatabaseService, Settings};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{MySqlPool, PgPool};

const KEYS: usize = 1000;
const POOL_MAX: u32 = 10;

const PG_SCHEMA: &str = "pal_bench";
const MARIADB_DB: &str = "pal_bench";

const PG_UPSERT: &str = "INSERT INTO pal_sessions (id, data, expires_at, updated_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, updated_at = excluded.updated_at";
const PG_GET: &str = "SELECT data, expires_at FROM pal_sessions WHERE id = $1 AND expires_at > $2";
const MY_UPSERT: &str = "INSERT INTO pal_sessions (id, data, expires_at, updated_at) VALUES (?, ?, ?, ?) \
     ON DUPLICATE KEY UPDATE data = VALUES(data), expires_at = VALUES(expires_at), updated_at = VALUES(updated_at)";
const MY_GET: &str = "SELECT data, expires_at FROM pal_sessions WHERE id = ? AND expires_at > ?";

async fn database(provider: &str, url: &str) -> Arc<dyn DatabaseService> {
    let pool_max = POOL_MAX.to_string();
    let vars =
        [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url), ("DB_POOL_MAX", &pool_max)];
    pal::factory::build_database(&Settings::from_vars(vars).unwrap()).await.unwrap()
}

/// A fresh, migrated schema (PostgreSQL) or database (MariaDB) for the benchmark:
/// the database, its URL, and the admin connection with the statement that drops it.
async fn prepare(provider: &str) -> (Arc<dyn DatabaseService>, String, (Arc<dyn DatabaseService>, String)) {
    let (admin, url, reset): (_, String, [String; 2]) = match provider {
        "postgresql" => (
            database(provider, &ports::postgres_url()).await,
            format!("{}?options=-c%20search_path%3D{PG_SCHEMA}", ports::postgres_url()),
            [format!("DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"), format!("CREATE SCHEMA {PG_SCHEMA}")],
        ),
        _ => (
            database(provider, &ports::mariadb_url()).await,
            format!("{}/{MARIADB_DB}", ports::mariadb_url()),
            [format!("DROP DATABASE IF EXISTS {MARIADB_DB}"), format!("CREATE DATABASE {MARIADB_DB}")],
        ),
    };
    for sql in &reset {
        admin.execute(sql, &[]).await.unwrap();
    }
    let db = database(provider, &url).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let [drop, _] = reset;
    (db, url, (admin, drop))
}

fn expires() -> DateTime<Utc> {
    Utc::now() + ChronoDuration::seconds(300)
}

/// The same two statements pal's ExpiringStore sends, on a raw sqlx pool.
enum Raw {
    Postgres(PgPool),
    MariaDb(MySqlPool),
}

impl Raw {
    fn new(provider: &str, url: &str) -> Raw {
        match provider {
            "postgresql" => Raw::Postgres(
                PgPoolOptions::new()
                    .max_connections(POOL_MAX)
                    .connect_lazy_with(PgConnectOptions::from_str(url).unwrap()),
            ),
            _ => {
                let options = MySqlConnectOptions::from_str(url).unwrap().timezone(Some("+00:00".to_string()));
                Raw::MariaDb(MySqlPoolOptions::new().max_connections(POOL_MAX).connect_lazy_with(options))
            }
        }
    }

    async fn upsert_get(&self, key: &str, data: &[u8]) -> Vec<u8> {
        match self {
            Raw::Postgres(pool) => {
                let upsert = sqlx::query(PG_UPSERT).bind(key).bind(data).bind(expires()).bind(Utc::now());
                upsert.execute(pool).await.unwrap();
                let get = sqlx::query_as::<_, (Vec<u8>, DateTime<Utc>)>(PG_GET).bind(key).bind(Utc::now());
                get.fetch_one(pool).await.unwrap().0
            }
            Raw::MariaDb(pool) => {
                let (expires, now) = (expires().naive_utc(), Utc::now().naive_utc());
                let upsert = sqlx::query(MY_UPSERT).bind(key).bind(data).bind(expires).bind(now);
                upsert.execute(pool).await.unwrap();
                let get = sqlx::query_as::<_, (Vec<u8>, NaiveDateTime)>(MY_GET).bind(key).bind(Utc::now().naive_utc());
                get.fetch_one(pool).await.unwrap().0
            }
        }
    }
}

async fn pal_upsert_get(store: &SqlExpiringStore, key: &str, data: &[u8]) -> ExpiringRecord {
    store.upsert(key, data, expires()).await.unwrap();
    store.get(key).await.unwrap().unwrap()
}

/// Times `iters` operations of one side, each followed by an untimed operation of
/// the other: on a machine shared with other work, both sides then meet the same
/// load and disk latency, which sequential runs of each side do not guarantee.
async fn interleaved(
    store: &SqlExpiringStore,
    raw: &Raw,
    keys: &[String],
    data: &[u8],
    iters: u64,
    pal: bool,
) -> Duration {
    let mut timed = Duration::ZERO;
    for n in 0..iters as usize {
        let key = &keys[n % keys.len()];
        let started = Instant::now();
        if pal {
            pal_upsert_get(store, key, data).await;
            timed += started.elapsed();
            raw.upsert_get(key, data).await;
        } else {
            raw.upsert_get(key, data).await;
            timed += started.elapsed();
            pal_upsert_get(store, key, data).await;
        }
    }
    timed
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("bench-session-{i}")).collect();
    let data = vec![7u8; 256];

    // sqlx pools start their maintenance task on the runtime they are built in.
    let _runtime = rt.enter();
    for (provider, name) in [("postgresql", "session_upsert_get_postgres"), ("mysql", "session_upsert_get_mariadb")] {
        let (db, url, (admin, drop)) = rt.block_on(prepare(provider));
        let store = SqlExpiringStore::new(db);
        let raw = Raw::new(provider, &url);
        let (through_pal, through_raw) =
            (rt.block_on(pal_upsert_get(&store, "check", &data)), rt.block_on(raw.upsert_get("check", &data)));
        assert_eq!(through_pal.data[..], through_raw[..]);
        let mut group = c.benchmark_group(name);
        group.sample_size(30).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
        for (function, pal) in [("pal", true), ("raw_sqlx", false)] {
            let (store, raw, keys, data) = (&store, &raw, &keys, &data);
            group.bench_function(function, |b| {
                b.to_async(&rt).iter_custom(|iters| interleaved(store, raw, keys, data, iters, pal))
            });
        }
        group.finish();
        rt.block_on(admin.execute(&drop, &[])).unwrap();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
