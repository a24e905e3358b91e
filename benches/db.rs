//! SessionStore upsert + get through pal against the same two statements on a raw
//! sqlx pool, on the same server in the same run: the difference is what the
//! abstraction costs (placeholder checks, typed binding, row decoding, bounds).
//! Needs the shared servers: `scripts/services up && cargo bench --bench db`, then
//! `scripts/bench-ratios` compares `pal` with `raw_sqlx` in each group.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pal::db::{SessionStore, SqlSessionStore};
use pal::{DatabaseService, Settings};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{MySqlPool, PgPool};

const KEYS: usize = 1000;
const POOL_MAX: u32 = 10;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PG_SCHEMA: &str = "pal_bench";
const MARIADB_ADMIN: &str = "mysql://root@127.0.0.1:3306";
const MARIADB_DB: &str = "pal_bench";

const PG_UPSERT: &str = "INSERT INTO sessions (id, data, expires_at, updated_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, updated_at = excluded.updated_at";
const PG_GET: &str = "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2";
const MY_UPSERT: &str = "INSERT INTO sessions (id, data, expires_at, updated_at) VALUES (?, ?, ?, ?) \
     ON DUPLICATE KEY UPDATE data = VALUES(data), expires_at = VALUES(expires_at), updated_at = VALUES(updated_at)";
const MY_GET: &str = "SELECT data, expires_at FROM sessions WHERE id = ? AND expires_at > ?";

async fn database(provider: &str, url: &str) -> Arc<dyn DatabaseService> {
    let pool_max = POOL_MAX.to_string();
    let vars =
        [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url), ("DB_POOL_MAX", &pool_max)];
    pal::factory::build_database(&Settings::from_vars(vars).unwrap()).await.unwrap()
}

/// A fresh, migrated schema (PostgreSQL) or database (MariaDB) for the benchmark.
async fn prepare(provider: &str) -> (Arc<dyn DatabaseService>, String) {
    let (admin, url, reset): (_, String, [String; 2]) = match provider {
        "postgresql" => (
            database(provider, PG_ADMIN).await,
            format!("{PG_ADMIN}?options=-c%20search_path%3D{PG_SCHEMA}"),
            [format!("DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"), format!("CREATE SCHEMA {PG_SCHEMA}")],
        ),
        _ => (
            database(provider, MARIADB_ADMIN).await,
            format!("{MARIADB_ADMIN}/{MARIADB_DB}"),
            [format!("DROP DATABASE IF EXISTS {MARIADB_DB}"), format!("CREATE DATABASE {MARIADB_DB}")],
        ),
    };
    for sql in &reset {
        admin.execute(sql, &[]).await.unwrap();
    }
    let db = database(provider, &url).await;
    db.migrate().await.unwrap();
    (db, url)
}

fn expires() -> DateTime<Utc> {
    Utc::now() + ChronoDuration::seconds(300)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("bench-session-{i}")).collect();
    let data = vec![7u8; 256];

    // sqlx pools start their maintenance task on the runtime they are built in.
    let _runtime = rt.enter();
    for provider in ["postgresql", "mysql"] {
        let (db, url) = rt.block_on(prepare(provider));
        let store = SqlSessionStore::new(db);
        let name = if provider == "postgresql" { "session_upsert_get_postgres" } else { "session_upsert_get_mariadb" };
        let mut group = c.benchmark_group(name);
        group.sample_size(30).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(6));
        let mut i = 0;
        group.bench_function("pal", |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % KEYS;
                let (store, key, data) = (&store, &keys[i], &data);
                async move {
                    store.upsert(key, data, expires()).await.unwrap();
                    store.get(key).await.unwrap().unwrap()
                }
            })
        });
        if provider == "postgresql" {
            let pool: PgPool = PgPoolOptions::new()
                .max_connections(POOL_MAX)
                .connect_lazy_with(PgConnectOptions::from_str(&url).unwrap());
            group.bench_function("raw_sqlx", |b| {
                b.to_async(&rt).iter(|| {
                    i = (i + 1) % KEYS;
                    let (pool, key, data) = (&pool, keys[i].as_str(), data.as_slice());
                    async move {
                        sqlx::query(PG_UPSERT)
                            .bind(key)
                            .bind(data)
                            .bind(expires())
                            .bind(Utc::now())
                            .execute(pool)
                            .await
                            .unwrap();
                        let row: (Vec<u8>, DateTime<Utc>) =
                            sqlx::query_as(PG_GET).bind(key).bind(Utc::now()).fetch_one(pool).await.unwrap();
                        row
                    }
                })
            });
        } else {
            let options = MySqlConnectOptions::from_str(&url).unwrap().timezone(Some("+00:00".to_string()));
            let pool: MySqlPool = MySqlPoolOptions::new().max_connections(POOL_MAX).connect_lazy_with(options);
            group.bench_function("raw_sqlx", |b| {
                b.to_async(&rt).iter(|| {
                    i = (i + 1) % KEYS;
                    let (pool, key, data) = (&pool, keys[i].as_str(), data.as_slice());
                    async move {
                        let now = Utc::now().naive_utc();
                        sqlx::query(MY_UPSERT)
                            .bind(key)
                            .bind(data)
                            .bind(expires().naive_utc())
                            .bind(now)
                            .execute(pool)
                            .await
                            .unwrap();
                        let row: (Vec<u8>, chrono::NaiveDateTime) = sqlx::query_as(MY_GET)
                            .bind(key)
                            .bind(Utc::now().naive_utc())
                            .fetch_one(pool)
                            .await
                            .unwrap();
                        row
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
