//! The MySQL provider on MariaDB, built through the factory, each test in a
//! database of its own on the shared server (`scripts/services`).

#[macro_use]
mod suite;
mod support;

use suite::db::DbSubject;

async fn mysql() -> DbSubject {
    support::mariadb_subject(&[]).await
}

db_conformance!(mysql);
