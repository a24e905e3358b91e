//! The MySQL provider on MariaDB, built through the factory, each test in a
//! database of its own on the shared server (`scripts/services`).

#[macro_use]
mod suite;
mod support;
use suite::servers;

use suite::db::DbSubject;

async fn mysql() -> DbSubject {
    servers::mariadb_subject(&[]).await
}

db_conformance!(mysql);

/// `pal migrate` applies the schema once, and `DB_AUTO_MIGRATE=true` applies it at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_migrates_explicitly_and_at_start() {
    let (explicit, drop_explicit) = servers::fresh_mariadb_database().await;
    let (auto, drop_auto) = servers::fresh_mariadb_database().await;
    tokio::task::spawn_blocking(move || servers::cli_migrations("mysql", &explicit, &auto)).await.unwrap();
    drop_explicit.await;
    drop_auto.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlock_is_a_serialization_failure() {
    let subject = servers::mariadb_subject(&[]).await;
    servers::deadlock_is_a_serialization_failure(&subject.db).await;
    subject.finish().await;
}
