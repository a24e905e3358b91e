//! A server stopped while pal uses it: calls fail with a connection error within
//! the configured timeouts (never hang), and once the server is back the same pool
//! serves again, without restarting anything. Runs against the dedicated servers
//! (`scripts/services`: postgres_fault, mariadb_fault), never the shared ones.

mod suite;
mod support;
use suite::servers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pal::{DatabaseService, ErrorKind};

const ACQUIRE_MS: u64 = 1000;
const STATEMENT_MS: u64 = 2000;
/// Scheduling slack on a busy two-core machine.
const SLACK: Duration = Duration::from_millis(400);
/// How long past `DB_STATEMENT_TIMEOUT_MS` pal itself waits for a statement.
const CLIENT_GRACE: Duration = Duration::from_millis(250);
/// A test that would hang fails instead after this.
const NEVER: Duration = Duration::from_secs(30);

/// Starts the server again if the test stops midway, so later tests find it up.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(NEVER, fut).await.unwrap_or_else(|_| panic!("{what} hung"))
}

async fn server_stopped_mid_use(provider: &str, url: &str, service: &'static str, sleep_sql: &'static str) {
    let _lock = servers::exclusive(service);
    servers::services("start", service);
    let _restart = servers::Restart(service);
    let (acquire, statement) = (ACQUIRE_MS.to_string(), STATEMENT_MS.to_string());
    let db: Arc<dyn DatabaseService> = servers::database(
        provider,
        url,
        &[("DB_POOL_MAX", "4"), ("DB_POOL_ACQUIRE_TIMEOUT_MS", &acquire), ("DB_STATEMENT_TIMEOUT_MS", &statement)],
    )
    .await;
    within("ping", db.ping()).await.unwrap();

    // One statement is running when the server goes away.
    let running = tokio::spawn({
        let db = db.clone();
        async move {
            let started = Instant::now();
            (db.query(sleep_sql, &[]).await, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::spawn_blocking(move || servers::services("stop", service)).await.unwrap();
    let (result, took) = within("the running statement", running).await.unwrap();
    if let Err(e) = &result {
        // MariaDB may instead end SLEEP() early and answer before closing.
        assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    }
    assert!(took < Duration::from_millis(STATEMENT_MS) + CLIENT_GRACE + SLACK, "the running statement took {took:?}");

    let bound = Duration::from_millis(ACQUIRE_MS) + SLACK;
    for attempt in 0..3 {
        let started = Instant::now();
        let err = within("a call while the server is down", db.query("SELECT 1 AS one", &[])).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::Connection, "call {attempt}: {err}");
        assert!(err.is_temporary());
        assert!(took < bound, "call {attempt} took {took:?}, more than {bound:?}");
        assert!(!err.to_string().contains("pal-test-secret"), "{err}");
    }

    // As many callers as the pool has connections: each one is told the server is down.
    let calls = (0..4).map(|_| db.query("SELECT 1 AS one", &[]));
    for result in within("concurrent calls while the server is down", futures::future::join_all(calls)).await {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Connection);
    }

    tokio::task::spawn_blocking(move || servers::services("start", service)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match within("a call after the restart", db.query("SELECT 1 AS one", &[])).await {
            Ok(rows) => {
                assert_eq!(rows[0].get::<i64>("one").unwrap(), 1);
                break;
            }
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_temporary(), "{e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the pool did not recover within 20 s: {e}"),
        }
    }
    // Every connection of the pool works again, not just one.
    let calls = (0..8).map(|_| db.query("SELECT 1 AS one", &[]));
    for result in within("calls after recovery", futures::future::join_all(calls)).await {
        result.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_server_stopped_mid_use() {
    let sql = "SELECT pg_sleep(1.5)";
    server_stopped_mid_use("postgresql", &servers::postgres_fault(), "postgres_fault", sql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cockroachdb_provider_server_stopped_mid_use() {
    let sql = "SELECT pg_sleep(1.5)";
    server_stopped_mid_use("cockroachdb", &servers::postgres_fault(), "postgres_fault", sql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_server_stopped_mid_use() {
    server_stopped_mid_use("mysql", &servers::mariadb_fault(), "mariadb_fault", "SELECT SLEEP(1.5) AS s").await;
}

/// A statement longer than DB_STATEMENT_TIMEOUT_MS is stopped by the server itself,
/// and the connection stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_is_enforced() {
    for (provider, url, slow) in [
        ("postgresql", &servers::postgres(), "SELECT pg_sleep(5)"),
        // MariaDB's SLEEP() returns early without an error when interrupted; a long
        // scan of its built-in sequence engine is interrupted with error 1969.
        (
            "mysql",
            &format!("{}/mysql", servers::mariadb()),
            "SELECT COUNT(*) AS s FROM seq_1_to_100000000000 WHERE seq % 7 = 3",
        ),
    ] {
        let db = servers::database(provider, url, &[("DB_STATEMENT_TIMEOUT_MS", "300"), ("DB_POOL_MAX", "1")]).await;
        let started = Instant::now();
        let err = within("a long statement", db.query(slow, &[])).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{provider}: {err}");
        // Stopped by the server at its limit: not before it, and not by pal's own
        // bound (limit + grace) on a statement the server failed to stop.
        let limit = Duration::from_millis(300);
        assert!(took >= limit - Duration::from_millis(20) && took < limit + CLIENT_GRACE, "{provider}: took {took:?}");
        within("the next statement", db.ping()).await.unwrap();
    }
}

/// Every connection held elsewhere for longer than DB_POOL_ACQUIRE_TIMEOUT_MS: a
/// `Timeout` that says so, not a connection error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_pool_is_a_timeout() {
    for (provider, url) in [("postgresql", servers::postgres()), ("mysql", servers::mariadb())] {
        let db =
            servers::database(provider, &url, &[("DB_POOL_MAX", "1"), ("DB_POOL_ACQUIRE_TIMEOUT_MS", "300")]).await;
        let held = db.begin().await.unwrap();
        let started = Instant::now();
        let err = within("a call on an exhausted pool", db.ping()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{provider}: {err}");
        assert!(err.message().contains("DB_POOL_MAX"), "{provider}: {err}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_millis(300) + SLACK,
            "{provider}: {took:?}"
        );
        held.rollback().await.unwrap();
        within("a call once the connection is back", db.ping()).await.unwrap();
    }
}
