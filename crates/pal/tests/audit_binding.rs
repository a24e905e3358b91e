//! A spool belongs to one database: each dialect names its database from the
//! configuration alone (no credentials) and tells its server apart by asking it;
//! a running audit log sets aside what it spooled for one server when another
//! answers at the same address, and follows the new one when nothing waits.

mod suite;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pal::audit::{AuditEvent, AuditLog, AuditSink, SqlAuditSink};
use pal::db::DbTarget;
use pal::{DatabaseService, ErrorKind, Settings};
use suite::servers;

#[tokio::test]
async fn each_dialect_names_its_database_without_credentials_and_its_server_by_asking_it() {
    let (pg_port, maria_port) = (support::port("PG_PORT"), support::port("MARIADB_PORT"));
    let pg_url = format!("postgres://postgres:not-a-secret@127.0.0.1:{pg_port}/postgres");
    let pg = servers::database("postgresql", &pg_url, &[]).await;
    assert_eq!(pg.target().description(), format!("postgresql://127.0.0.1:{pg_port}/postgres"));
    let pg_id = pg.server_identity().await.unwrap().unwrap();
    assert!(pg_id.starts_with("system ") && pg_id.ends_with(", database postgres"), "{pg_id}");
    let other_cluster = servers::database("postgresql", &servers::pg_primary(), &[]).await;
    let other_id = other_cluster.server_identity().await.unwrap().unwrap();
    assert_ne!(pg_id, other_id, "another cluster");

    let maria = servers::database("mysql", &format!("mysql://root@127.0.0.1:{maria_port}/mysql"), &[]).await;
    assert_eq!(maria.target().description(), format!("mysql://127.0.0.1:{maria_port}/mysql"));
    // MariaDB has no server_uuid: the second query answers.
    let maria_id = maria.server_identity().await.unwrap().unwrap();
    assert!(maria_id.starts_with("server_uid ") && maria_id.ends_with(", database mysql"), "{maria_id}");
    let other_maria = servers::database("mysql", &format!("{}/mysql", servers::mariadb_primary()), &[]).await;
    assert_ne!(maria_id, other_maria.server_identity().await.unwrap().unwrap(), "another server");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pal.db");
    let url = format!("sqlite://{}", path.display());
    let sqlite = servers::database("sqlite", &url, &[]).await;
    assert_eq!(sqlite.target(), DbTarget::file("sqlite", &path));
    let file_id = sqlite.server_identity().await.unwrap().unwrap();
    assert!(file_id.starts_with("file inode "), "{file_id}");
    assert_eq!(servers::database("sqlite", &url, &[]).await.server_identity().await.unwrap().unwrap(), file_id);
    // Another file at the same path, even one given back the inode number just freed.
    drop(sqlite);
    std::fs::remove_file(&path).unwrap();
    let replaced = servers::database("sqlite", &url, &[]).await;
    assert_ne!(replaced.server_identity().await.unwrap().unwrap(), file_id);
    let memory = servers::database("sqlite", "sqlite::memory:", &[]).await;
    assert_eq!(memory.server_identity().await.unwrap(), None);

    let down = servers::database(
        "postgresql",
        "postgres://postgres@127.0.0.1:1/postgres",
        &[("DB_POOL_ACQUIRE_TIMEOUT_MS", "500")],
    )
    .await;
    assert_eq!(down.target().description(), "postgresql://127.0.0.1:1/postgres", "named while down");
    let err = down.server_identity().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout), "an outage, not a refusal: {err}");
}

/// A database whose server the test swaps: `up` false is an outage, `server` is
/// who answers at the address.
struct Swapped {
    inner: SqlAuditSink,
    up: AtomicBool,
    server: Mutex<String>,
}

impl Swapped {
    fn down() -> pal::Error {
        pal::Error::new(ErrorKind::Connection, "the database is down")
    }

    fn answer(&self, up: bool, server: &str) {
        *self.server.lock().unwrap() = server.to_string();
        self.up.store(up, Ordering::SeqCst);
    }
}

#[async_trait]
impl AuditSink for Swapped {
    async fn insert_batch(&self, events: &[AuditEvent]) -> pal::Result<()> {
        match self.up.load(Ordering::SeqCst) {
            true => self.inner.insert_batch(events).await,
            false => Err(Swapped::down()),
        }
    }

    fn target(&self) -> DbTarget {
        self.inner.target()
    }

    async fn server_identity(&self) -> pal::Result<Option<String>> {
        match self.up.load(Ordering::SeqCst) {
            true => Ok(Some(self.server.lock().unwrap().clone())),
            false => Err(Swapped::down()),
        }
    }
}

async fn swapped(durability: &str) -> (AuditLog, Arc<Swapped>, Arc<dyn DatabaseService>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let db = servers::database("sqlite", &url, &[]).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let sink = Arc::new(Swapped {
        inner: SqlAuditSink::new(db.clone()),
        up: AtomicBool::new(true),
        server: Mutex::new("server A".into()),
    });
    let spool = dir.path().join("spool").display().to_string();
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("AUDIT_SPOOL_DIR", spool.as_str()),
        ("AUDIT_DURABILITY", durability),
        ("AUDIT_FLUSH_INTERVAL_MS", "20"),
    ];
    let log = AuditLog::start(sink.clone(), Settings::from_vars(vars).unwrap().audit).await.unwrap();
    (log, sink, db, dir)
}

async fn stored(db: &Arc<dyn DatabaseService>) -> Vec<String> {
    let rows = db.query("SELECT action FROM pal_audit_log ORDER BY occurred_at", &[]).await.unwrap();
    rows.iter().map(|r| r.get::<String>("action").unwrap()).collect()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_log_sets_aside_what_it_spooled_for_the_server_it_saw_when_another_answers() {
    let (log, sink, db, dir) = swapped("spooled").await;
    log.log(AuditEvent::new("e1")).await.unwrap();
    until("e1 delivered to server A", async || log.status().await.unwrap().delivered == 1).await;
    sink.answer(false, "server A");
    for action in ["e2", "e3"] {
        log.log(AuditEvent::new(action)).await.unwrap();
    }
    until("the outage noticed", async || log.status().await.unwrap().retries > 0).await;
    sink.answer(true, "server B");
    until("e2 and e3 set aside", async || log.status().await.unwrap().elsewhere == 2).await;
    log.log(AuditEvent::new("e4")).await.unwrap();
    let report = log.shutdown().await.unwrap();
    assert_eq!(report.spooled, 0);
    assert_eq!(stored(&db).await, ["e1", "e4"], "e2 and e3 were written for server A");

    let spools = pal::audit::spools(&dir.path().join("spool")).await.unwrap();
    let aside: Vec<_> = spools.iter().filter(|s| s.set_aside.is_some()).collect();
    assert_eq!(aside.len(), 1, "{spools:?}");
    assert_eq!((aside[0].events, aside[0].server.as_deref()), (2, Some("server A")));
    assert!(aside[0].set_aside.as_deref().unwrap().contains("server B"), "{:?}", aside[0]);
    assert_eq!(aside[0].target.as_deref(), Some(sink.target().description()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_spool_follows_another_server_at_its_address() {
    let (log, sink, db, dir) = swapped("buffered").await;
    log.log(AuditEvent::new("e1")).await.unwrap();
    until("e1 delivered to server A", async || log.status().await.unwrap().delivered == 1).await;
    sink.answer(false, "server A");
    log.log(AuditEvent::new("e2")).await.unwrap();
    until("the outage noticed", async || log.status().await.unwrap().retries > 0).await;
    sink.answer(true, "server B");
    log.shutdown().await.unwrap();
    // e2 was in memory, taken for the database configured now: nothing was spooled for A.
    assert_eq!(stored(&db).await, ["e1", "e2"]);
    let spools = pal::audit::spools(&dir.path().join("spool")).await.unwrap();
    assert_eq!(spools.len(), 1, "nothing set aside: {spools:?}");
    assert_eq!((spools[0].events, spools[0].server.as_deref()), (0, Some("server B")));
}
