//! What TLS costs: a Redis GET and a PostgreSQL session read through pal, over
//! TLS (verify-full, the test CA) and in plaintext, against the same server
//! process in the same run, from 50 concurrent tasks; rounds alternate so noise
//! hits both alike. Values are stored unsealed, so only the transport differs.
//!
//! `scripts/services up && cargo bench -p pal --bench tls`

mod common;
use pal_test_support::ports;

use std::sync::Arc;

use chrono::Utc;
use common::{ROUNDS, median, round};
use pal::expiring::{ExpiringStore, SqlExpiringStore};
use pal::{CacheService, DatabaseService, Settings, Ttl};
use ports::port;

const KEYS: usize = 1000;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ca() -> String {
    root().join(".services/tls/ca.pem").canonicalize().unwrap().to_str().unwrap().to_string()
}

async fn redis(url: &str, ca: Option<&str>) -> Arc<dyn CacheService> {
    let mut vars = vec![
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", url),
        ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
        ("DB_PROVIDER", "sqlite"),
    ];
    vars.extend(ca.map(|ca| ("REDIS_TLS_CA_FILE", ca)));
    pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap()
}

async fn database(url: &str) -> Arc<dyn DatabaseService> {
    let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", url)];
    pal::factory::build_database(&Settings::from_vars(vars).unwrap()).await.unwrap()
}

fn report(what: &str, tls: Vec<f64>, plain: Vec<f64>) {
    let (tls, plain) = (median(tls), median(plain));
    println!("{what}: tls {tls:>9.0} ops/s, plaintext {plain:>9.0} ops/s, tls/plaintext {:.2}", tls / plain);
}

async fn redis_get() {
    let tls_url = format!("rediss://127.0.0.1:{}", port("REDIS_TLS_PORT"));
    let plain_url = format!("redis://127.0.0.1:{}", port("REDIS_TLS_PLAIN_PORT"));
    let ca = ca();
    let (tls, plain) = (redis(&tls_url, Some(&ca)).await, redis(&plain_url, None).await);
    let ttl = Ttl::from_secs(600).unwrap();
    for i in 0..KEYS {
        plain.set(&format!("bench:tls:{i}"), vec![b'x'; 256].into(), ttl).await.unwrap();
    }
    let (mut t, mut p) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (cache, out) in [(&tls, &mut t), (&plain, &mut p)] {
            let cache = cache.clone();
            out.push(
                round(move |task, i| {
                    let cache = cache.clone();
                    async move {
                        let key = format!("bench:tls:{}", (task * 7919 + i) % KEYS);
                        assert!(cache.get(&key).await.unwrap().is_some());
                    }
                })
                .await,
            );
        }
    }
    report("Redis GET, 256 B, 50 tasks (pal)", t, p);
    let (tls_port, plain_port) = (port("REDIS_TLS_PORT"), port("REDIS_TLS_PLAIN_PORT"));
    match (redis_benchmark(&tls_port, Some(&ca)), redis_benchmark(&plain_port, None)) {
        (Some(tls), Some(plain)) => println!(
            "Redis GET, 256 B, redis-benchmark -c 50: tls {tls:>9.0} ops/s, plaintext {plain:>9.0} ops/s, \
             tls/plaintext {:.2}",
            tls / plain
        ),
        _ => println!("redis-benchmark did not run"),
    }
}

/// `redis-benchmark -c 50 -d 256 -t get` against the same server, TLS or not.
fn redis_benchmark(port: &str, ca: Option<&str>) -> Option<f64> {
    let mut args = vec!["-h", "127.0.0.1", "-p", port, "-c", "50", "-d", "256", "-t", "get", "-n", "300000", "--csv"];
    if let Some(ca) = ca {
        args.extend(["--tls", "--cacert", ca]);
    }
    let out = std::process::Command::new("redis-benchmark").args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("\"GET\""))?;
    line.split(',').nth(1)?.trim_matches('"').parse().ok()
}

async fn session_read() {
    let base =
        |user: &str, query: &str| format!("postgres://{user}@127.0.0.1:{}/postgres?{query}", port("PG_TLS_PORT"));
    let verify = format!("sslmode=verify-full&sslrootcert={}", ca());
    let admin = database(&base("postgres", &verify)).await;
    admin.execute("DROP SCHEMA IF EXISTS pal_bench_tls CASCADE", &[]).await.unwrap();
    admin.execute("CREATE SCHEMA pal_bench_tls", &[]).await.unwrap();
    let path = "options=-c%20search_path%3Dpal_bench_tls";
    let tls = database(&base("postgres", &format!("{verify}&{path}"))).await;
    let plain = database(&base("pal_plain", &format!("sslmode=disable&{path}"))).await;
    assert!(tls.transport().await.unwrap().encrypted() && !plain.transport().await.unwrap().encrypted());
    tls.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let expires = Utc::now() + chrono::Duration::seconds(600);
    let store = SqlExpiringStore::new(tls.clone());
    for i in 0..KEYS {
        store.upsert(&format!("s{i}"), &[b'x'; 256], expires).await.unwrap();
    }
    let stores = [Arc::new(SqlExpiringStore::new(tls)), Arc::new(SqlExpiringStore::new(plain))];
    let (mut t, mut p) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (store, out) in [(&stores[0], &mut t), (&stores[1], &mut p)] {
            let store = store.clone();
            out.push(
                round(move |task, i| {
                    let store = store.clone();
                    async move {
                        assert!(store.get(&format!("s{}", (task * 7919 + i) % KEYS)).await.unwrap().is_some());
                    }
                })
                .await,
            );
        }
    }
    admin.execute("DROP SCHEMA IF EXISTS pal_bench_tls CASCADE", &[]).await.unwrap();
    report("PostgreSQL session read, 256 B, 50 tasks, pool of 10", t, p);
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not, and gets a quick pass.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    redis_get().await;
    session_read().await;
}
