//! Replication positions on a network database: the SQL each dialect asks its
//! server, and the polling a server that cannot wait for a position needs.

use std::time::{Duration, Instant};

use crate::db::position::{ConsistencyToken, PositionKind, ReplicaLag};
use crate::db::{DatabaseService, Row, Value};
use crate::error::{Error, ErrorKind, Result};

/// How one dialect reads replication positions.
pub(crate) struct Replication {
    pub kind: PositionKind,
    /// One row whose first column is the primary's position as text; NULL or
    /// empty when it keeps none.
    pub position_sql: &'static str,
    /// One row, one column, true (or 1) when the replica has replayed `$1`; NULL
    /// when the server is not a replica. With `waits`, `$2` is how long the
    /// server itself may wait for it, in seconds.
    pub replayed_sql: &'static str,
    pub waits: bool,
    pub lag_sql: &'static str,
    /// Reads the rows of `lag_sql`.
    pub lag: fn(&[Row]) -> Result<ReplicaLag>,
}

/// The longest pause between two polls of a server that cannot wait itself.
const POLL_CAP: Duration = Duration::from_millis(10);

impl Replication {
    pub(crate) async fn position(&self, db: &dyn DatabaseService) -> Result<Option<ConsistencyToken>> {
        let rows = db.query(self.position_sql, &[]).await?;
        match rows.first().and_then(|row| row.values().first()) {
            Some(Value::Text(text)) if !text.is_empty() => ConsistencyToken::new(self.kind, text).map(Some),
            _ => Ok(None),
        }
    }

    pub(crate) async fn replayed(
        &self,
        db: &dyn DatabaseService,
        token: &ConsistencyToken,
        wait: Duration,
    ) -> Result<bool> {
        if token.kind() != self.kind {
            return Err(Error::invalid_input(format!(
                "the consistency token {token} comes from another kind of database ({} expects {:?} positions)",
                db.provider(),
                self.kind
            )));
        }
        let position = Value::Text(token.position().to_owned());
        if self.waits {
            let rows = db.query(self.replayed_sql, &[position, Value::Float(wait.as_secs_f64())]).await?;
            return truth(db, &rows);
        }
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            if truth(db, &db.query(self.replayed_sql, std::slice::from_ref(&position)).await?)? {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(POLL_CAP);
        }
    }

    pub(crate) async fn lag(&self, db: &dyn DatabaseService) -> Result<ReplicaLag> {
        (self.lag)(&db.query(self.lag_sql, &[]).await?)
    }
}

fn truth(db: &dyn DatabaseService, rows: &[Row]) -> Result<bool> {
    match rows.first().and_then(|row| row.values().first()) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Int(i)) => Ok(*i != 0),
        _ => Err(not_a_replica(db.provider())),
    }
}

/// The server answered, but as a primary: `DB_REPLICA_URL` points at the wrong server.
pub(crate) fn not_a_replica(provider: &'static str) -> Error {
    Error::new(ErrorKind::Config, "the server is not a replica (it replays no primary's changes)")
        .with_provider(provider)
}
