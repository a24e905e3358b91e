//! The metrics as an operator scrapes them: after a known workload through the
//! factory-built providers, the Prometheus text of pal's recorder holds the exact
//! expected counts, on memory (with SQLite), Redis, and redis-hybrid whose Redis
//! dies part-way; and `METRICS_ENABLED=false` records nothing.

#[macro_use]
mod suite;
mod support;

use std::net::SocketAddr;
use std::sync::OnceLock;

use bytes::Bytes;
use pal::telemetry::prometheus::PrometheusHandle;
use pal::{CacheService, Settings, Ttl, Value};
use prometheus_parse::{Sample, Scrape, Value as Metric};
use support::proxy::{FaultProxy, Mode};

/// One recorder for the process (a global can be installed once); tests take the
/// lock so that, under any runner, each counts only its own calls.
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| pal::telemetry::prometheus::install().expect("no other recorder in this process"))
}

async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

fn scrape() -> Scrape {
    let text = recorder().render();
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the exporter writes the text format")
}

/// The sum of the samples named `name` carrying every label of `labels`.
fn total(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matches = |s: &&Sample| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v));
    scrape
        .samples
        .iter()
        .filter(matches)
        .map(|s| match &s.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
            Metric::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Metric::Summary(_) => panic!("{name} is a summary, not a histogram"),
        })
        .sum()
}

/// What a workload changed: `after - before` for one series.
struct Delta(Scrape, Scrape);

impl Delta {
    fn of(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        total(&self.1, name, labels) - total(&self.0, name, labels)
    }
}

fn ttl() -> Ttl {
    Ttl::from_secs(300).unwrap()
}

/// 95 sets, then 100 gets of which 95 hit, then 3 increments of a value that is
/// not a number: 198 calls.
async fn known_workload(cache: &dyn CacheService, run: &str) {
    for i in 0..95 {
        cache.set(&format!("{run}:{i}"), Bytes::from_static(b"value"), ttl()).await.unwrap();
    }
    for i in 0..100 {
        let found = cache.get(&format!("{run}:{i}")).await.unwrap();
        assert_eq!(found.is_some(), i < 95);
    }
    for _ in 0..3 {
        let err = cache.incr(&format!("{run}:0"), 1, ttl()).await.unwrap_err();
        assert_eq!(err.kind(), pal::ErrorKind::NotAnInteger);
    }
}

fn assert_counts(d: &Delta, provider: &str) {
    let p = ("provider", provider);
    assert_eq!(d.of("pal_cache_hits_total", &[p]), 95.0, "{provider} hits");
    assert_eq!(d.of("pal_cache_misses_total", &[p]), 5.0, "{provider} misses");
    assert_eq!(d.of("pal_cache_operations_total", &[p, ("op", "get"), ("outcome", "ok")]), 100.0);
    assert_eq!(d.of("pal_cache_operations_total", &[p, ("op", "set"), ("outcome", "ok")]), 95.0);
    assert_eq!(d.of("pal_cache_operations_total", &[p, ("op", "incr"), ("outcome", "error")]), 3.0);
    assert_eq!(d.of("pal_cache_errors_total", &[p, ("op", "incr"), ("kind", "not_an_integer")]), 3.0);
    assert_eq!(d.of("pal_cache_operations_total", &[p]), 198.0, "{provider}: nothing else was counted");
    // Every call is in the latency histogram, under its operation.
    assert_eq!(d.of("pal_cache_operation_duration_seconds_count", &[p, ("op", "get")]), 100.0);
    assert_eq!(d.of("pal_cache_operation_duration_seconds", &[p, ("op", "get")]), 100.0, "+Inf bucket");
    assert_eq!(d.of("pal_cache_operation_duration_seconds_count", &[p]), 198.0);
}

fn run_id() -> String {
    format!("metrics-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn memory_and_sqlite_counts_are_exact() {
    let _lock = exclusive().await;
    recorder();
    let settings = Settings::from_vars([
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
    ])
    .unwrap();
    let cache = pal::factory::build_cache(&settings).await.unwrap();
    let db = pal::factory::build_database(&settings).await.unwrap();
    let before = scrape();
    known_workload(cache.as_ref(), &run_id()).await;
    db.execute("CREATE TABLE t (n INTEGER NOT NULL)", &[]).await.unwrap();
    for n in 0..10 {
        db.execute("INSERT INTO t (n) VALUES ($1)", &[Value::Int(n)]).await.unwrap();
    }
    let rows = db.query("SELECT n FROM t", &[]).await.unwrap();
    assert_eq!(rows.len(), 10);
    db.query("SELEC nonsense", &[]).await.unwrap_err();
    let d = Delta(before, scrape());
    assert_counts(&d, "memory");
    let p = ("provider", "sqlite");
    assert_eq!(d.of("pal_db_operations_total", &[p, ("op", "execute"), ("outcome", "ok")]), 11.0);
    assert_eq!(d.of("pal_db_operations_total", &[p, ("op", "query"), ("outcome", "ok")]), 1.0);
    assert_eq!(d.of("pal_db_operations_total", &[p, ("op", "query"), ("outcome", "error")]), 1.0);
    assert_eq!(d.of("pal_db_errors_total", &[p, ("op", "query"), ("kind", "syntax")]), 1.0);
    assert_eq!(d.of("pal_db_operation_duration_seconds_count", &[p]), 13.0);
    // The pool's connections, in use or idle as last sampled: as many as it opened.
    let sampled: Vec<f64> =
        ["in_use", "idle"].iter().map(|state| total(&d.1, "pal_db_pool_connections", &[p, ("state", state)])).collect();
    let opened = sampled.iter().sum::<f64>();
    assert!((1.0..=f64::from(settings.db_settings().unwrap().pool.max)).contains(&opened), "{sampled:?}");
}

#[tokio::test]
async fn redis_counts_are_exact_and_sealing_does_not_change_them() {
    let _lock = exclusive().await;
    recorder();
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let vars = support::sealed(&[("CACHE_PROVIDER", "redis"), ("REDIS_URL", &url), ("DB_PROVIDER", "sqlite")]);
    let cache = pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    let before = scrape();
    known_workload(cache.as_ref(), &run_id()).await;
    assert_counts(&Delta(before, scrape()), "redis");
}

/// 180 calls with Redis up (90 sets, 90 gets of which 85 hit), then Redis dies
/// (every connection reset) and 20 more calls are served by PostgreSQL: 20
/// fallbacks out of 200 calls, and Redis's own hit rate from its 90 gets.
#[tokio::test]
async fn redis_hybrid_counts_fallbacks_exactly() {
    let _lock = exclusive().await;
    recorder();
    let (db_url, _schema) = suite::servers::guarded_postgres_schema().await;
    let redis: SocketAddr = format!("127.0.0.1:{}", support::port("REDIS_PORT")).parse().unwrap();
    let proxy = FaultProxy::start(redis).await;
    let redis_url = proxy.url("redis");
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &redis_url),
        ("REDIS_CONNECT_TIMEOUT_MS", "300"),
        ("REDIS_COMMAND_TIMEOUT_MS", "300"),
        ("CACHE_BREAKER_FAILURE_THRESHOLD", "1"),
        ("CACHE_BREAKER_COOLDOWN_MS", "3600000"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &db_url),
        ("DB_AUTO_MIGRATE", "true"),
    ]);
    let cache = pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    let run = run_id();
    let before = scrape();
    for i in 0..90 {
        cache.set(&format!("{run}:{i}"), Bytes::from_static(b"value"), ttl()).await.unwrap();
    }
    for i in 5..95 {
        assert_eq!(cache.get(&format!("{run}:{i}")).await.unwrap().is_some(), i < 90);
    }
    proxy.set(Mode::Reset);
    for i in 0..20 {
        cache.get(&format!("{run}:{i}")).await.unwrap();
    }
    let d = Delta(before, scrape());
    let hybrid = ("provider", "redis-hybrid");
    assert_eq!(d.of("pal_cache_operations_total", &[hybrid]), 200.0);
    assert_eq!(d.of("pal_cache_operations_total", &[hybrid, ("outcome", "error")]), 0.0, "no caller saw an error");
    assert_eq!(d.of("pal_hybrid_fallbacks_total", &[]), 20.0);
    assert_eq!(d.of("pal_hybrid_fallbacks_total", &[("op", "get")]), 20.0);
    assert_eq!(d.of("pal_hybrid_fallback_duration_seconds_count", &[("op", "get")]), 20.0);
    assert_eq!(d.of("pal_hybrid_breaker_transitions_total", &[("to", "open")]), 1.0);
    assert_eq!(total(&d.1, "pal_hybrid_breaker_state", &[]), 1.0, "open");
    // Redis's own figures: its 90 gets, and the one that found it dead.
    let redis = ("provider", "redis");
    assert_eq!(d.of("pal_cache_hits_total", &[redis]), 85.0);
    assert_eq!(d.of("pal_cache_misses_total", &[redis]), 5.0);
    assert_eq!(d.of("pal_cache_operations_total", &[redis, ("op", "get"), ("outcome", "ok")]), 90.0);
    assert_eq!(d.of("pal_cache_operations_total", &[redis, ("op", "get"), ("outcome", "error")]), 1.0);
    assert_eq!(d.of("pal_cache_errors_total", &[redis, ("op", "get"), ("kind", "connection")]), 1.0);
    assert_eq!(d.of("pal_cache_operations_total", &[redis, ("op", "set")]), 90.0);
    // The database side is measured too, as PostgreSQL.
    assert!(d.of("pal_db_operations_total", &[("provider", "postgresql")]) >= 20.0);
}

#[tokio::test]
async fn metrics_enabled_false_removes_the_layers() {
    let _lock = exclusive().await;
    recorder();
    let settings = Settings::from_vars([
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("METRICS_ENABLED", "false"),
    ])
    .unwrap();
    let cache = pal::factory::build_cache(&settings).await.unwrap();
    let db = pal::factory::build_database(&settings).await.unwrap();
    let before = scrape();
    known_workload(cache.as_ref(), &run_id()).await;
    db.query("SELECT 1", &[]).await.unwrap();
    let d = Delta(before, scrape());
    assert_eq!(d.of("pal_cache_operations_total", &[]), 0.0);
    assert_eq!(d.of("pal_db_operations_total", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_cache_series_count_hits_misses_and_invalidations() {
    let _one = exclusive().await;
    recorder();
    let prefix = format!("nearm{}:", run_id());
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let vars = [
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_URL", url.as_str()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
        ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
    ];
    let (writer, _) = pal::factory::build_cache_with_near(&Settings::from_vars(vars).unwrap()).await.unwrap();
    let mut with_near = vars.to_vec();
    with_near.push(("CACHE_NEAR_MAX_BYTES", "1048576"));
    let (cache, near) = pal::factory::build_cache_with_near(&Settings::from_vars(with_near).unwrap()).await.unwrap();
    let near = near.unwrap();
    support::eventually(std::time::Duration::from_secs(10), || async { near.stats().active }).await.unwrap();
    let before = scrape();
    writer.set("k", Bytes::from_static(b"v"), ttl()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]), "a miss");
    for _ in 0..9 {
        cache.get("k").await.unwrap();
    }
    writer.set("k", Bytes::from_static(b"w"), ttl()).await.unwrap();
    support::eventually(std::time::Duration::from_secs(5), || async {
        cache.get("k").await.unwrap().as_deref() == Some(&b"w"[..])
    })
    .await
    .unwrap();
    let stats = near.stats();
    // The series are published every second.
    support::eventually(std::time::Duration::from_secs(5), || async {
        total(&scrape(), "pal_cache_near_hits_total", &[("provider", "redis")])
            >= total(&before, "pal_cache_near_hits_total", &[("provider", "redis")]) + 9.0
    })
    .await
    .expect("near hits are exported");
    let d = Delta(before, scrape());
    let p = ("provider", "redis");
    assert!(d.of("pal_cache_near_hits_total", &[p]) >= 9.0, "{stats:?}");
    assert!(d.of("pal_cache_near_misses_total", &[p]) >= 2.0, "{stats:?}");
    assert!(d.of("pal_cache_near_invalidations_total", &[p, ("cause", "server")]) >= 1.0, "{stats:?}");
    let after = scrape();
    assert_eq!(total(&after, "pal_cache_near_tracking", &[p]), 1.0);
    assert!(total(&after, "pal_cache_near_entries", &[p]) >= 1.0);
    assert!(total(&after, "pal_cache_near_bytes", &[p]) > 0.0);
    writer.delete("k").await.unwrap();
}
