//! PostgreSQL streaming replication: positions are WAL locations. A standby
//! cannot wait for a location itself, so the caller polls.

use std::time::Duration;

use crate::db::network::Replication;
use crate::db::position::{PositionKind, ReplicaLag};
use crate::db::{Row, Value};
use crate::error::Result;

pub(super) static REPLICATION: Replication = Replication {
    kind: PositionKind::WalLsn,
    position_sql: "SELECT pg_current_wal_lsn()::text",
    replayed_sql: "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
    waits: false,
    // Nothing received but not replayed means nothing to catch up on, however old
    // the last replayed transaction; otherwise the lag is the age of the last one
    // replayed, as the PostgreSQL documentation measures it.
    lag_sql: "SELECT pg_is_in_recovery() AS replica, \
              CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0::float8 \
              ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END AS lag_seconds",
    lag,
};

fn lag(rows: &[Row]) -> Result<ReplicaLag> {
    let row = rows.first().ok_or_else(|| crate::db::network::not_a_replica(super::POSTGRESQL.name))?;
    if row.value("replica") != Some(&Value::Bool(true)) {
        return Err(crate::db::network::not_a_replica(super::POSTGRESQL.name));
    }
    Ok(match row.value("lag_seconds") {
        Some(Value::Float(seconds)) => ReplicaLag::Behind(Duration::from_secs_f64(seconds.max(0.0))),
        _ => ReplicaLag::Unknown,
    })
}
