//! Transaction retries of the CockroachDB provider, on real PostgreSQL under
//! SERIALIZABLE: genuinely conflicting transactions abort with SQLSTATE 40001 there
//! as they do on CockroachDB, and the closure runs again.

mod suite;
mod support;
use suite::servers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pal::{DatabaseService, DatabaseServiceExt, Error, ErrorKind};

const TASKS: u32 = 16;
const INCREMENTS: u32 = 5;

/// Reads the counter, then writes it back plus one: two transactions that read the
/// same value conflict, and SERIALIZABLE aborts one of them.
async fn increment(db: Arc<dyn DatabaseService>, key: String, attempts: Arc<AtomicU32>) -> pal::Result<()> {
    db.transaction(move |tx| {
        attempts.fetch_add(1, Ordering::Relaxed);
        let key = key.clone();
        Box::pin(async move {
            let n: i64 = tx.query("SELECT n FROM counter WHERE id = 1", &[]).await?[0].get("n")?;
            tx.execute("UPDATE counter SET n = $1 WHERE id = 1", &[(n + 1).into()]).await?;
            // A write that must happen once per increment, however often the closure ran.
            tx.execute("INSERT INTO increments (k) VALUES ($1)", &[key.into()]).await?;
            Ok(())
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conflicting_increments_are_retried_to_the_exact_total() {
    let subject =
        servers::postgres_subject("cockroachdb", &[("DB_POOL_MAX", "20"), ("DB_TX_MAX_RETRIES", "100")]).await;
    let db = subject.db.clone();
    db.execute("CREATE TABLE counter (id INT PRIMARY KEY, n BIGINT NOT NULL)", &[]).await.unwrap();
    db.execute("CREATE TABLE increments (k TEXT PRIMARY KEY)", &[]).await.unwrap();
    db.execute("INSERT INTO counter (id, n) VALUES (1, 0)", &[]).await.unwrap();

    let attempts = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (db, attempts) = (db.clone(), attempts.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..INCREMENTS {
                increment(db.clone(), format!("{t}-{i}"), attempts.clone()).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let expected = i64::from(TASKS * INCREMENTS);
    let n: i64 = db.query("SELECT n FROM counter WHERE id = 1", &[]).await.unwrap()[0].get("n").unwrap();
    assert_eq!(n, expected, "no increment was lost or applied twice");
    let logged: i64 = db.query("SELECT COUNT(*) AS c FROM increments", &[]).await.unwrap()[0].get("c").unwrap();
    assert_eq!(logged, expected, "the writes of aborted attempts were rolled back");
    let attempts = attempts.load(Ordering::Relaxed);
    assert!(attempts > TASKS * INCREMENTS, "expected at least one retry, saw {attempts} attempts");
    println!("{} increments took {attempts} attempts", TASKS * INCREMENTS);
    subject.finish().await;
}

/// Runs `body` in a closure transaction and returns its error and how often it ran.
async fn attempts_until_error(db: &Arc<dyn DatabaseService>, sql: &'static str) -> (Error, u32) {
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let err = db
        .transaction(move |tx| {
            counter.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move { tx.execute(sql, &[]).await.map(drop) })
        })
        .await
        .unwrap_err();
    (err, attempts.load(Ordering::Relaxed))
}

#[tokio::test]
async fn only_serialization_failures_are_retried_and_at_most_the_configured_times() {
    let subject = servers::postgres_subject("cockroachdb", &[("DB_TX_MAX_RETRIES", "3")]).await;
    let db = subject.db.clone();

    let started = Instant::now();
    let (err, attempts) = attempts_until_error(&db, "SELEC 1").await;
    assert_eq!((err.kind(), attempts), (ErrorKind::Syntax, 1), "{err}");
    db.execute("CREATE TABLE once (k TEXT PRIMARY KEY)", &[]).await.unwrap();
    db.execute("INSERT INTO once (k) VALUES ('x')", &[]).await.unwrap();
    let (err, attempts) = attempts_until_error(&db, "INSERT INTO once (k) VALUES ('x')").await;
    assert_eq!((err.kind(), attempts), (ErrorKind::UniqueViolation, 1), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "non-retryable errors return at once");

    // A real SQLSTATE 40001 from the server, worded as CockroachDB words its retry errors.
    let (err, attempts) = attempts_until_error(
        &db,
        "DO $$ BEGIN RAISE EXCEPTION 'restart transaction: TransactionRetryWithProtoRefreshError: \
         WriteTooOldError' USING ERRCODE = '40001'; END $$",
    )
    .await;
    assert_eq!((err.kind(), attempts), (ErrorKind::SerializationFailure, 4), "1 attempt + DB_TX_MAX_RETRIES=3: {err}");
    subject.finish().await;
}

#[tokio::test]
async fn cockroachdb_transactions_run_serializable() {
    for (provider, expected) in [("cockroachdb", "serializable"), ("postgresql", "read committed")] {
        let subject = servers::postgres_subject(provider, &[]).await;
        let mut tx = subject.db.begin().await.unwrap();
        let level: String =
            tx.query("SELECT current_setting('transaction_isolation') AS l", &[]).await.unwrap()[0].get("l").unwrap();
        assert_eq!(level, expected, "{provider}");
        tx.commit().await.unwrap();
        subject.finish().await;
    }
}
