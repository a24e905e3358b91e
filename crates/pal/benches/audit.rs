//! The audit log into PostgreSQL against one single-row INSERT per event, 20
//! producers, same server, same run: events/s until every event is stored, and
//! `log()` latency. `scripts/services up && cargo bench -p pal --bench audit`.

use pal_test_support::ports;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pal::audit::{AuditEvent, AuditLog, AuditSink, SqlAuditSink};
use pal::{DatabaseService, Settings, Value};

const PRODUCERS: usize = 20;
const EVENTS: usize = 40_000;

fn event(p: usize, seq: usize) -> AuditEvent {
    AuditEvent::new("bench.login")
        .subject(format!("user-{p}"))
        .ip("203.0.113.7")
        .details(serde_json::json!({ "seq": seq, "agent": "Mozilla/5.0 (X11; Linux x86_64)" }))
        .unwrap()
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

/// Events/s from the first `log()` until all are stored, and the `log()` latencies.
async fn through_audit_log(
    db: &Arc<dyn DatabaseService>,
    durability: &str,
    spool: &std::path::Path,
) -> (f64, Vec<Duration>) {
    let spool = spool.display().to_string();
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("AUDIT_DURABILITY", durability),
        ("AUDIT_SPOOL_DIR", spool.as_str()),
        ("AUDIT_BUFFER_SIZE", "500"),
        ("AUDIT_FLUSH_INTERVAL_MS", "100"),
    ];
    let settings = Settings::from_vars(vars).unwrap().audit;
    let sink: Arc<dyn AuditSink> = Arc::new(SqlAuditSink::new(db.clone()));
    let log = Arc::new(AuditLog::start(sink, settings).await.unwrap());
    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(EVENTS / PRODUCERS);
                for seq in 0..EVENTS / PRODUCERS {
                    let e = event(p, seq);
                    let t = Instant::now();
                    log.log(e).await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for p in producers {
        latencies.extend(p.await.unwrap());
    }
    let report = log.shutdown().await.unwrap();
    assert_eq!(report.spooled, 0);
    let rate = EVENTS as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    (rate, latencies)
}

/// Events/s with one INSERT per event, as the application would write without the log.
async fn single_row_inserts(db: &Arc<dyn DatabaseService>) -> f64 {
    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let db = db.clone();
            tokio::spawn(async move {
                for seq in 0..EVENTS / PRODUCERS {
                    let e = event(p, seq);
                    db.execute(
                        "INSERT INTO pal_audit_log (id, occurred_at, actor, action, ip, details) VALUES ($1, $2, $3, $4, $5, $6)",
                        &[
                            Value::Text(e.id.to_string()),
                            e.occurred_at.into(),
                            e.actor.into(),
                            e.action.into(),
                            e.ip.into(),
                            Value::Json(e.details),
                        ],
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    EVENTS as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| ports::postgres_url());
        let settings = Settings::from_vars([
            ("CACHE_PROVIDER", "memory"),
            ("DB_PROVIDER", "postgresql"),
            ("DATABASE_URL", url.as_str()),
            ("DB_POOL_MAX", "20"),
        ])
        .unwrap();
        let db = pal::factory::build_database(&settings).await.unwrap();
        db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        println!("{EVENTS} events from {PRODUCERS} producers into PostgreSQL; events/s until all are stored");
        let raw = single_row_inserts(&db).await;
        println!("one INSERT per event        {raw:>10.0} events/s");
        for durability in ["buffered", "spooled"] {
            let (rate, lat) = through_audit_log(&db, durability, &dir.path().join(durability)).await;
            println!(
                "AuditLog {durability:<9}          {rate:>10.0} events/s   {:.1}x   log() p50 {:?} p99 {:?} max {:?}",
                rate / raw,
                quantile(&lat, 0.5),
                quantile(&lat, 0.99),
                lat.last().unwrap()
            );
        }
        db.execute("DELETE FROM pal_audit_log WHERE action = 'bench.login'", &[]).await.unwrap();
    });
}
