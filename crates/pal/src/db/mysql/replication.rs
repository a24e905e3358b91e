//! MariaDB GTID replication: positions are `@@gtid_binlog_pos`, and a replica
//! waits for one itself (`MASTER_GTID_WAIT`). MySQL's GTIDs (`gtid_executed`)
//! are a different system and are not read.

use std::time::Duration;

use crate::db::network::{Replication, not_a_replica};
use crate::db::position::{PositionKind, ReplicaLag};
use crate::db::{Row, Value};
use crate::error::Result;

pub(super) static REPLICATION: Replication = Replication {
    kind: PositionKind::Gtid,
    position_sql: "SELECT CAST(@@GLOBAL.gtid_binlog_pos AS CHAR)",
    replayed_sql: "SELECT MASTER_GTID_WAIT($1, $2) = 0",
    waits: true,
    lag_sql: "SHOW SLAVE STATUS",
    lag,
};

fn lag(rows: &[Row]) -> Result<ReplicaLag> {
    let row = rows.first().ok_or_else(|| not_a_replica(super::PROVIDER.name))?;
    let text = |names: [&str; 2]| {
        names.iter().find_map(|name| match row.value(name) {
            Some(Value::Text(t)) => Some(t.clone()),
            Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
    };
    // While the SQL thread is stopped the server reports no lag: nothing is applied.
    if text(["Slave_SQL_Running", "Replica_SQL_Running"]).as_deref() != Some("Yes") {
        return Ok(ReplicaLag::Unknown);
    }
    let seconds = ["Seconds_Behind_Master", "Seconds_Behind_Source"].iter().find_map(|name| match row.value(name) {
        Some(Value::Int(s)) => Some(*s),
        Some(Value::Text(t)) => t.parse().ok(),
        _ => None,
    });
    Ok(match seconds {
        Some(s) => ReplicaLag::Behind(Duration::from_secs(s.max(0).unsigned_abs())),
        None => ReplicaLag::Unknown,
    })
}
