//! The real servers the database tests use (`pal_test_support::servers`: their
//! addresses, a schema or database of a test's own), and a migrated subject of the
//! database suite on them.

use std::sync::Arc;

use pal::DatabaseService;

pub(crate) use pal_test_support::servers::*;

use crate::suite::db::DbSubject;
pub(crate) use crate::support::exclusive;

/// A migrated `provider` database (postgresql or cockroachdb) in a schema of its own
/// on the shared PostgreSQL server.
pub(crate) async fn postgres_subject(provider: &str, extra: &[(&str, &str)]) -> DbSubject {
    let (url, teardown) = fresh_postgres_schema().await;
    migrated_subject(provider, &url, extra, teardown).await
}

/// A migrated MySQL-provider database of its own on the shared MariaDB server.
pub(crate) async fn mariadb_subject(extra: &[(&str, &str)]) -> DbSubject {
    let (url, teardown) = fresh_mariadb_database().await;
    migrated_subject("mysql", &url, extra, teardown).await
}

async fn migrated_subject(provider: &str, url: &str, extra: &[(&str, &str)], teardown: Teardown) -> DbSubject {
    let db = database(provider, url, extra).await;
    assert!(!db.migrate(pal::db::migrate::Tables::ALL).await.unwrap().is_empty(), "a new schema gets the migrations");
    DbSubject { db, guard: None, teardown: Some(teardown) }
}

/// Two transactions that lock two rows in opposite orders: the server breaks the
/// deadlock by aborting one, which pal reports as a serialization failure (and the
/// closure API would retry).
pub(crate) async fn deadlock_is_a_serialization_failure(db: &Arc<dyn DatabaseService>) {
    db.execute("CREATE TABLE locks (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)", &[]).await.unwrap();
    db.execute("INSERT INTO locks (id, n) VALUES (1, 0), (2, 0)", &[]).await.unwrap();
    let update = "UPDATE locks SET n = n + 1 WHERE id = $1";
    let mut first = db.begin().await.unwrap();
    let mut second = db.begin().await.unwrap();
    first.execute(update, &[1.into()]).await.unwrap();
    second.execute(update, &[2.into()]).await.unwrap();
    let blocked = tokio::spawn(async move {
        let result = first.execute(update, &[2.into()]).await;
        (result, first)
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let closing = second.execute(update, &[1.into()]).await;
    let (blocked_result, first) = blocked.await.unwrap();
    let kinds: Vec<_> = [&blocked_result, &closing].iter().filter_map(|r| r.as_ref().err().map(|e| e.kind())).collect();
    assert_eq!(kinds, [pal::ErrorKind::SerializationFailure], "{blocked_result:?} {closing:?}");
    let _ = first.rollback().await;
    let _ = second.rollback().await;
}
