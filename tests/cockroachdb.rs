//! The CockroachDB provider, run against real PostgreSQL: same wire protocol and
//! SQL, and under SERIALIZABLE PostgreSQL aborts conflicting transactions with
//! SQLSTATE 40001 as CockroachDB does. What this does not cover is listed in the
//! README.

#[macro_use]
mod suite;
use suite::servers as support;

use suite::db::DbSubject;

async fn cockroachdb() -> DbSubject {
    support::postgres_subject("cockroachdb", &[]).await
}

db_conformance!(cockroachdb);
