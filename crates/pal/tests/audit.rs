//! The audit log against real databases: 10 000 events from 20 producers with
//! the database stopped for 30 s in the middle all arrive exactly once, in each
//! producer's order; a SIGTERMed process delivers what it held; a SIGKILLed one in
//! `spooled` mode delivers every acknowledged event after its restart; the
//! overflow policies do what they say; bad events are refused alone.

mod suite;
mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pal::audit::{AuditEvent, AuditLog, AuditSink, SqlAuditSink};
use pal::{DatabaseService, ErrorKind, Settings, Value};
use suite::servers;
use support::counting_sink::CountingSink;

fn settings(dir: &std::path::Path, vars: &[(&str, &str)]) -> pal::audit::AuditSettings {
    let spool = dir.display().to_string();
    let mut all = vec![("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("AUDIT_SPOOL_DIR", spool.as_str())];
    all.extend_from_slice(vars);
    Settings::from_vars(all).unwrap_or_else(|e| panic!("{e}")).audit
}

fn run_tag() -> String {
    format!("audit-test-{}", uuid::Uuid::new_v4().simple())
}

/// Every stored event of run `tag`: (id, subject, seq in its producer, occurred_at).
async fn stored(db: &Arc<dyn DatabaseService>, tag: &str) -> Vec<(String, String, i64, chrono::DateTime<chrono::Utc>)> {
    let rows = db
        .query(
            "SELECT id, actor, details, occurred_at FROM pal_audit_log WHERE action = $1 ORDER BY occurred_at, id",
            &[Value::Text(tag.into())],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let details: serde_json::Value = r.get("details").unwrap();
            (
                r.get::<String>("id").unwrap(),
                r.get::<Option<String>>("actor").unwrap().unwrap_or_default(),
                details["seq"].as_i64().unwrap(),
                r.get("occurred_at").unwrap(),
            )
        })
        .collect()
}

/// Every event stored (the table's primary key keeps each id once: deliveries
/// are counted by `CountingSink`), and each producer's events in the order it
/// logged them.
fn assert_exactly_once_in_order(rows: &[(String, String, i64, chrono::DateTime<chrono::Utc>)], expected: usize) {
    assert_eq!(rows.len(), expected, "events are missing");
    let mut last: HashMap<&str, i64> = HashMap::new();
    for (_, subject, seq, _) in rows {
        let previous = last.insert(subject, *seq);
        assert!(previous.is_none_or(|p| p < *seq), "{subject}: event {seq} stored before {previous:?} by time");
    }
}

async fn outage(provider: &str, db: Arc<dyn DatabaseService>, service: Option<&'static str>) {
    const PRODUCERS: usize = 20;
    const EACH: usize = 500;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let counting = CountingSink::new(Arc::new(SqlAuditSink::new(db.clone())));
    let log = Arc::new(
        AuditLog::start(
            counting.clone(),
            settings(dir.path(), &[("AUDIT_FLUSH_INTERVAL_MS", "200"), ("AUDIT_BUFFER_SIZE", "100")]),
        )
        .await
        .unwrap(),
    );
    let tag = run_tag();
    // Spread over the outage when there is one: 50 ms apart, 25 s in all.
    let pause = Duration::from_millis(if service.is_some() { 50 } else { 0 });
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (log, tag) = (log.clone(), tag.clone());
            tokio::spawn(async move {
                let mut slowest = Duration::ZERO;
                for seq in 0..EACH {
                    let event = AuditEvent::new(&tag)
                        .subject(format!("producer-{p}"))
                        .details(serde_json::json!({ "seq": seq }))
                        .unwrap();
                    let started = Instant::now();
                    log.log(event).await.unwrap();
                    slowest = slowest.max(started.elapsed());
                    tokio::time::sleep(pause).await;
                }
                slowest
            })
        })
        .collect();
    if let Some(service) = service {
        tokio::time::sleep(Duration::from_secs(3)).await;
        tokio::task::spawn_blocking(move || servers::services("stop", service)).await.unwrap();
        let stopped = Instant::now();
        tokio::time::sleep(Duration::from_secs(30)).await;
        tokio::task::spawn_blocking(move || servers::services("start", service)).await.unwrap();
        eprintln!("{provider}: database stopped for {:?}", stopped.elapsed());
    }
    let mut slowest = Duration::ZERO;
    for producer in producers {
        slowest = slowest.max(producer.await.unwrap());
    }
    let report = log.shutdown().await.unwrap();
    assert_eq!(report.spooled, 0, "everything was delivered once the database was back");
    let status = log.status().await.unwrap();
    eprintln!("{provider}: slowest log() {slowest:?}; {} retries; {:?}", status.retries, report);
    assert!(slowest < Duration::from_secs(1), "log() waited for the database: {slowest:?}");
    if service.is_some() {
        assert!(status.retries > 0, "the outage was noticed");
    }
    assert_exactly_once_in_order(&stored(&db, &tag).await, PRODUCERS * EACH);
    assert_eq!(counting.delivered(), PRODUCERS * EACH, "every event was acknowledged by the sink");
    let twice = counting.delivered_twice();
    assert!(
        twice.is_empty(),
        "{} events were delivered again after the sink took them: {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
}

/// The dedicated server started by this checkout, with its own data: one another
/// checkout left on the port would be replaced by ours when the test restarts it,
/// and the tables migrated into the other's data would be gone.
fn own_server(service: &'static str) {
    servers::services("stop", service);
    servers::services("start", service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_ten_thousand_events_through_a_30_s_outage() {
    let _lock = servers::exclusive("postgres_fault");
    own_server("postgres_fault");
    let _restart = servers::Restart("postgres_fault");
    let db =
        servers::database("postgresql", &servers::postgres_fault(), &[("DB_POOL_ACQUIRE_TIMEOUT_MS", "1000")]).await;
    outage("postgresql", db, Some("postgres_fault")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_ten_thousand_events_through_a_30_s_outage() {
    let _lock = servers::exclusive("mariadb_fault");
    own_server("mariadb_fault");
    let _restart = servers::Restart("mariadb_fault");
    let admin = servers::database("mysql", &servers::mariadb_fault(), &[]).await;
    admin.execute("CREATE DATABASE IF NOT EXISTS pal_audit", &[]).await.unwrap();
    let url = format!("{}/pal_audit", servers::mariadb_fault());
    let db = servers::database("mysql", &url, &[("DB_POOL_ACQUIRE_TIMEOUT_MS", "1000")]).await;
    outage("mysql", db, Some("mariadb_fault")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_ten_thousand_events() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let db = servers::database("sqlite", &url, &[]).await;
    outage("sqlite", db, None).await;
}

/// A sink that holds every batch until opened: the database "down", without
/// error, so the overflow policies can be watched.
struct Gate {
    inner: SqlAuditSink,
    open: AtomicBool,
}

#[async_trait]
impl AuditSink for Gate {
    async fn insert_batch(&self, events: &[AuditEvent]) -> pal::Result<()> {
        while !self.open.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.inner.insert_batch(events).await
    }

    fn target(&self) -> pal::db::DbTarget {
        self.inner.target()
    }

    async fn server_identity(&self) -> pal::Result<Option<String>> {
        self.inner.server_identity().await
    }
}

async fn gated(overflow: &str) -> (Arc<AuditLog>, Arc<Gate>, Arc<dyn DatabaseService>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let db = servers::database("sqlite", &url, &[]).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let gate = Arc::new(Gate { inner: SqlAuditSink::new(db.clone()), open: AtomicBool::new(false) });
    let vars = [
        ("AUDIT_BUFFER_SIZE", "10"),
        ("AUDIT_MAX_PENDING", "100"),
        ("AUDIT_OVERFLOW", overflow),
        ("AUDIT_FLUSH_INTERVAL_MS", "50"),
    ];
    let log = AuditLog::start(gate.clone(), settings(&dir.path().join("spool"), &vars)).await.unwrap();
    (Arc::new(log), gate, db, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overflow_drop_counts_what_it_drops_and_never_blocks() {
    let (log, gate, db, _dir) = gated("drop").await;
    let tag = run_tag();
    let started = Instant::now();
    for seq in 0..1000 {
        log.log(AuditEvent::new(&tag).subject("p").details(serde_json::json!({ "seq": seq })).unwrap()).await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(2), "drop blocked: {:?}", started.elapsed());
    let status = log.status().await.unwrap();
    // The flusher holds one batch of 10 at the gate, out of the 100 pending.
    assert_eq!(status.pending, 100);
    assert_eq!(status.dropped, 900);
    gate.open.store(true, Ordering::Release);
    log.shutdown().await.unwrap();
    assert_exactly_once_in_order(&stored(&db, &tag).await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overflow_block_waits_and_never_drops() {
    let (log, gate, db, _dir) = gated("block").await;
    let tag = run_tag();
    let producer = {
        let (log, tag) = (log.clone(), tag.clone());
        tokio::spawn(async move {
            for seq in 0..300 {
                log.log(AuditEvent::new(&tag).subject("p").details(serde_json::json!({ "seq": seq })).unwrap())
                    .await
                    .unwrap();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!producer.is_finished(), "block let a producer past AUDIT_MAX_PENDING");
    assert_eq!(log.status().await.unwrap().pending, 100);
    gate.open.store(true, Ordering::Release);
    tokio::time::timeout(Duration::from_secs(10), producer).await.expect("the producer resumed").unwrap();
    log.shutdown().await.unwrap();
    assert_eq!(log.status().await.unwrap().dropped, 0);
    assert_exactly_once_in_order(&stored(&db, &tag).await, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overflow_spool_neither_blocks_nor_drops_and_keeps_order() {
    let (log, gate, db, _dir) = gated("spool").await;
    let tag = run_tag();
    let started = Instant::now();
    for seq in 0..300 {
        log.log(AuditEvent::new(&tag).subject("p").details(serde_json::json!({ "seq": seq })).unwrap()).await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(5), "spool blocked: {:?}", started.elapsed());
    let status = log.status().await.unwrap();
    assert_eq!((status.pending, status.spooled, status.dropped), (100, 200, 0));
    gate.open.store(true, Ordering::Release);
    let report = log.shutdown().await.unwrap();
    assert_eq!(report.spooled, 0);
    assert_exactly_once_in_order(&stored(&db, &tag).await, 300);
}

#[tokio::test]
async fn bad_events_are_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let db = servers::database("sqlite", &url, &[]).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let log = AuditLog::start(
        Arc::new(SqlAuditSink::new(db.clone())),
        settings(dir.path(), &[("AUDIT_MAX_DETAILS_BYTES", "1024"), ("AUDIT_FLUSH_INTERVAL_MS", "60000")]),
    )
    .await
    .unwrap();
    let tag = run_tag();
    let good = |seq: i64| AuditEvent::new(&tag).subject("p").details(serde_json::json!({ "seq": seq })).unwrap();
    log.log(good(0)).await.unwrap();
    let oversize = AuditEvent::new(&tag).details(serde_json::json!({ "blob": "x".repeat(2000) })).unwrap();
    let nul_subject = AuditEvent::new(&tag).subject("ali\0ce");
    let nul_details = AuditEvent::new(&tag).details(serde_json::json!({ "k": "a\u{0}b" })).unwrap();
    let empty_action = AuditEvent::new("  ");
    for (what, event) in [
        ("oversize", oversize),
        ("NUL subject", nul_subject),
        ("NUL in details", nul_details),
        ("empty action", empty_action),
    ] {
        let err = log.log(event).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{what}: {err}");
        eprintln!("{what}: {err}");
    }
    let mut not_json = HashMap::new();
    not_json.insert((1, 2), "tuple keys are not JSON object keys");
    let err = AuditEvent::new(&tag).details(&not_json).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "the type is at fault: {err}");
    log.log(good(1)).await.unwrap();
    log.shutdown().await.unwrap();
    assert_exactly_once_in_order(&stored(&db, &tag).await, 2);
}

/// The child's part of the SIGTERM test: 1 000 events held in memory (the
/// interval is an hour), then a graceful shutdown on SIGTERM.
async fn child_holds_events_until_sigterm(url: &str, spool: &str, tag: &str) {
    let db = servers::database("postgresql", url, &[]).await;
    let vars = [("AUDIT_FLUSH_INTERVAL_MS", "3600000"), ("AUDIT_BUFFER_SIZE", "10000")];
    let counting = CountingSink::new(Arc::new(SqlAuditSink::new(db)));
    let log = AuditLog::start(counting.clone(), settings(std::path::Path::new(spool), &vars)).await.unwrap();
    for seq in 0..1000 {
        log.log(AuditEvent::new(tag).details(serde_json::json!({ "seq": seq })).unwrap()).await.unwrap();
    }
    println!("READY {}", log.status().await.unwrap().pending);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    term.recv().await;
    let report = log.shutdown().await.unwrap();
    // Delivered in all, not only during shutdown: the flusher's first pass, when it
    // starts, may already have taken the events logged before it ran.
    let delivered = log.status().await.unwrap().delivered;
    println!(
        "CLOSED delivered={} spooled={} acknowledged={} twice={}",
        delivered,
        report.spooled,
        counting.delivered(),
        counting.delivered_twice().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_delivers_every_pending_event_before_exit() {
    if let Some((url, spool, tag)) = support::audit_child_args() {
        return child_holds_events_until_sigterm(&url, &spool, &tag).await;
    }
    let (url, _schema) = servers::guarded_postgres_schema().await;
    let db = servers::database("postgresql", &url, &[]).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tag = format!("audit-term-{}", uuid::Uuid::new_v4().simple());
    let mut child =
        support::spawn_audit_child("sigterm_delivers_every_pending_event_before_exit", &url, dir.path(), &tag);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
    let ready = lines.by_ref().find(|l| l.starts_with("READY")).expect("the child logged its events");
    assert_eq!(ready, "READY 1000", "all held in memory");
    assert_eq!(stored(&db, &tag).await.len(), 0, "nothing delivered before the signal");
    support::signal(child.id(), "TERM");
    let closed = lines.find(|l| l.starts_with("CLOSED")).expect("the child closed its audit log");
    assert!(child.wait().unwrap().success());
    assert_eq!(closed, "CLOSED delivered=1000 spooled=0 acknowledged=1000 twice=0");
    assert_eq!(stored(&db, &tag).await.len(), 1000);
}

/// The child's part of the SIGKILL test: logs in `spooled` mode from 20 producers
/// until killed, printing each id whose `log()` returned.
async fn child_logs_until_killed(spool: &str, url: &str, tag: &str) {
    let db = servers::database("postgresql", url, &[]).await;
    let sink: Arc<dyn AuditSink> = Arc::new(SqlAuditSink::new(db));
    let log = Arc::new(
        AuditLog::start(
            sink,
            settings(
                std::path::Path::new(spool),
                &[("AUDIT_DURABILITY", "spooled"), ("AUDIT_FLUSH_INTERVAL_MS", "100")],
            ),
        )
        .await
        .unwrap(),
    );
    let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel::<String>();
    for p in 0..20 {
        let (log, acks, tag) = (log.clone(), acks.clone(), tag.to_string());
        tokio::spawn(async move {
            for seq in 0.. {
                let event = AuditEvent::new(&tag)
                    .subject(format!("producer-{p}"))
                    .details(serde_json::json!({ "seq": seq }))
                    .unwrap();
                let id = event.id.to_string();
                log.log(event).await.unwrap();
                let _ = acks.send(id);
            }
        });
    }
    let mut out = std::io::stdout().lock();
    while let Some(id) = acked.recv().await {
        writeln!(out, "ACK {id}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spooled_events_acknowledged_before_a_sigkill_are_delivered_after_the_restart() {
    if let Some((url, spool, tag)) = support::audit_child_args() {
        return child_logs_until_killed(&spool, &url, &tag).await;
    }
    let (url, _schema) = servers::guarded_postgres_schema().await;
    let db = servers::database("postgresql", &url, &[]).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tag = run_tag();
    let test = "spooled_events_acknowledged_before_a_sigkill_are_delivered_after_the_restart";
    let mut child = support::spawn_audit_child(test, &url, dir.path(), &tag);
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("ACK ").map(str::to_string))
            .collect::<Vec<String>>()
    });
    // A moment that differs from run to run, under load.
    let after = Duration::from_millis(800 + u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * 8);
    tokio::time::sleep(after).await;
    support::signal(child.id(), "KILL");
    let _ = child.wait();
    let acked = reader.join().unwrap();
    assert!(acked.len() > 100, "the child acknowledged only {} events in {after:?}", acked.len());

    // The restart: a new audit log on the same spool delivers what the dead one left.
    let counting = CountingSink::new(Arc::new(SqlAuditSink::new(db.clone())));
    let log =
        AuditLog::start(counting.clone(), settings(dir.path(), &[("AUDIT_DURABILITY", "spooled")])).await.unwrap();
    let report = log.shutdown().await.unwrap();
    assert_eq!(report.spooled, 0);
    // 20 producers log without pause and the child delivers every 100 ms: the kill
    // always leaves events in its spool, which only the replay can deliver.
    assert!(counting.delivered() > 0, "the restart replayed nothing: the test did not exercise the replay");
    assert!(counting.delivered_twice().is_empty(), "the replay delivered an event twice");
    let rows = stored(&db, &tag).await;
    let ids: HashSet<&String> = rows.iter().map(|r| &r.0).collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !ids.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events are missing: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    eprintln!(
        "SIGKILL after {after:?}: {} acknowledged, {} stored (the rest were spooled, not yet acknowledged), {} replayed",
        acked.len(),
        rows.len(),
        counting.delivered()
    );
}
