//! PostgreSQL, built through the factory, each test in a schema of its own on the
//! shared server (`scripts/services`).

#[macro_use]
mod suite;
mod support;
use suite::servers;

use suite::db::DbSubject;

async fn postgresql() -> DbSubject {
    servers::postgres_subject("postgresql", &[]).await
}

db_conformance!(postgresql);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlock_is_a_serialization_failure() {
    let subject = servers::postgres_subject("postgresql", &[]).await;
    servers::deadlock_is_a_serialization_failure(&subject.db).await;
    subject.finish().await;
}
