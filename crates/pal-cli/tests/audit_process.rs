//! The audit log across process boundaries, through `pal serve`: it delivers at
//! start-up what an earlier process left in the spool for its database, then closes
//! the log on SIGTERM; what other spools hold for other databases it reports. (A
//! SIGTERMed process delivering what it held is the library's `tests/audit.rs`.)

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pal::audit::{AuditEvent, AuditLog, AuditSink};
use pal::{DatabaseService, Settings, Value};
use support::serve::Serve;
use support::servers;

fn settings(vars: &[(&str, &str)]) -> pal::audit::AuditSettings {
    let mut all = vec![("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")];
    all.extend_from_slice(vars);
    Settings::from_vars(all).unwrap_or_else(|e| panic!("{e}")).audit
}

async fn count(db: &Arc<dyn DatabaseService>, tag: &str) -> i64 {
    let rows = db
        .query(
            "SELECT COUNT(DISTINCT id) AS n, COUNT(*) AS total FROM pal_audit_log WHERE action = $1",
            &[Value::Text(tag.into())],
        )
        .await
        .unwrap();
    let (distinct, total): (i64, i64) = (rows[0].get("n").unwrap(), rows[0].get("total").unwrap());
    // The primary key keeps each id once.
    assert_eq!(distinct, total);
    total
}

/// A database that never answers, for leaving events in the spool of its target.
struct Unreachable(pal::db::DbTarget);

#[async_trait]
impl AuditSink for Unreachable {
    async fn insert_batch(&self, _events: &[AuditEvent]) -> pal::Result<()> {
        Err(pal::Error::new(pal::ErrorKind::Connection, "the database is down"))
    }

    fn target(&self) -> pal::db::DbTarget {
        self.0.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pal_serve_delivers_what_an_earlier_process_spooled_and_closes_the_log_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool").display().to_string();
    let tag = format!("audit-serve-{}", uuid::Uuid::new_v4().simple());
    let url = format!("sqlite://{}", dir.path().join("pal.db").display());
    {
        let vars = [
            ("AUDIT_DURABILITY", "spooled"),
            ("AUDIT_SPOOL_DIR", spool.as_str()),
            ("AUDIT_SHUTDOWN_TIMEOUT_MS", "100"),
        ];
        // The database `pal serve` is configured with, down when the events were logged.
        let target = servers::database("sqlite", &url, &[]).await.target();
        let log = AuditLog::start(Arc::new(Unreachable(target)), settings(&vars)).await.unwrap();
        for seq in 0..50 {
            log.log(AuditEvent::new(&tag).details(serde_json::json!({ "seq": seq })).unwrap()).await.unwrap();
        }
        let report = log.shutdown().await.unwrap();
        assert_eq!(report.spooled, 50, "the database was down: all 50 wait in the spool");
    }
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", url.as_str()),
        ("AUDIT_SPOOL_DIR", spool.as_str()),
    ];
    let serve = tokio::task::block_in_place(|| Serve::start(&vars));
    let db = servers::database("sqlite", &url, &[]).await;
    let started = Instant::now();
    while count(&db, &tag).await < 50 {
        assert!(started.elapsed() < Duration::from_secs(15), "pal serve did not deliver the spooled events");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, output) = tokio::task::block_in_place(|| serve.stop());
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("delivering events spooled by an earlier run"), "{output}");
    assert!(output.contains("audit log closed"), "{output}");
    let spools = pal::audit::spools(std::path::Path::new(&spool)).await.unwrap();
    assert_eq!(spools.len(), 1, "{spools:?}");
    assert_eq!(spools[0].events, 0, "{spools:?}");
}

/// Events another database waits for, in the same spool directory: `pal serve`
/// leaves them alone and says how many at /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pal_serve_reports_the_events_other_spools_hold_for_other_databases() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool").display().to_string();
    let tag = format!("audit-elsewhere-{}", uuid::Uuid::new_v4().simple());
    {
        let elsewhere = format!("sqlite://{}", dir.path().join("elsewhere.db").display());
        let target = servers::database("sqlite", &elsewhere, &[]).await.target();
        let vars = [
            ("AUDIT_DURABILITY", "spooled"),
            ("AUDIT_SPOOL_DIR", spool.as_str()),
            ("AUDIT_SHUTDOWN_TIMEOUT_MS", "100"),
        ];
        let log = AuditLog::start(Arc::new(Unreachable(target)), settings(&vars)).await.unwrap();
        for _ in 0..3 {
            log.log(AuditEvent::new(&tag)).await.unwrap();
        }
        assert_eq!(log.shutdown().await.unwrap().spooled, 3);
    }
    let url = format!("sqlite://{}", dir.path().join("pal.db").display());
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", url.as_str()),
        ("AUDIT_SPOOL_DIR", spool.as_str()),
    ];
    let serve = tokio::task::block_in_place(|| Serve::start(&vars));
    let (status, metrics) = support::http_get(serve.port, "/metrics").unwrap();
    assert_eq!(status, 200);
    let gauge = metrics.lines().find(|l| l.starts_with("pal_audit_spooled_elsewhere ")).unwrap_or_default();
    assert_eq!(gauge, "pal_audit_spooled_elsewhere 3", "{metrics}");
    let (code, output) = tokio::task::block_in_place(|| serve.stop());
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("other spools of AUDIT_SPOOL_DIR"), "{output}");
    let db = servers::database("sqlite", &url, &[]).await;
    assert_eq!(count(&db, &tag).await, 0, "they were written for another database");
}
