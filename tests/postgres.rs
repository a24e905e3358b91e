//! PostgreSQL, built through the factory, each test in a schema of its own on the
//! shared server (`scripts/services`).

#[macro_use]
mod suite;
mod support;

use suite::db::DbSubject;

async fn postgresql() -> DbSubject {
    support::postgres_subject("postgresql", &[]).await
}

db_conformance!(postgresql);
