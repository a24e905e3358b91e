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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlock_is_a_serialization_failure() {
    let subject = servers::mariadb_subject(&[]).await;
    servers::deadlock_is_a_serialization_failure(&subject.db).await;
    subject.finish().await;
}
