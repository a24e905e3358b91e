//! The CockroachDB provider, run against real PostgreSQL: same wire protocol and
//! SQL, and under SERIALIZABLE PostgreSQL aborts conflicting transactions with
//! SQLSTATE 40001 as CockroachDB does. What this does not cover is listed in the
//! README.

#[macro_use]
mod suite;
mod support;
use suite::servers;

use suite::db::DbSubject;

async fn cockroachdb() -> DbSubject {
    servers::postgres_subject("cockroachdb", &[]).await
}

db_conformance!(cockroachdb);
