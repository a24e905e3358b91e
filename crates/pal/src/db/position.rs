//! Positions in a primary's write history, handed to applications as
//! consistency tokens; how far a replica is behind, and how the router sees it.
//!
//! A token is a small string (`pg:0/16B3748`, `gtid:0-1-42`) an application can
//! keep in a cookie or the cache between requests. It arrives back from outside,
//! so it is parsed strictly: nothing but a well-formed position reaches SQL.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};

/// Longest token accepted: a GTID position lists one GTID per replication
/// domain, and real deployments have a handful.
const MAX_LEN: usize = 512;

/// What kind of position a token holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PositionKind {
    /// A PostgreSQL WAL location (`pg_current_wal_lsn()`).
    WalLsn,
    /// A MariaDB GTID position (`@@gtid_binlog_pos`): one GTID per domain.
    Gtid,
}

impl PositionKind {
    fn prefix(self) -> &'static str {
        match self {
            PositionKind::WalLsn => "pg",
            PositionKind::Gtid => "gtid",
        }
    }
}

/// A point in the primary's write history: every write acknowledged before it
/// was taken is at or before it. A read that presents it is served by a replica
/// only once that replica has replayed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsistencyToken {
    kind: PositionKind,
    position: String,
}

impl ConsistencyToken {
    /// A token for a position as the server printed it; checked like a parsed one.
    pub fn new(kind: PositionKind, position: &str) -> Result<Self> {
        let valid = match kind {
            PositionKind::WalLsn => valid_lsn(position),
            PositionKind::Gtid => valid_gtid_position(position),
        };
        match valid && position.len() <= MAX_LEN {
            true => Ok(ConsistencyToken { kind, position: position.to_owned() }),
            false => Err(Error::invalid_input(format!(
                "{position:?} is not a {} position",
                match kind {
                    PositionKind::WalLsn => "PostgreSQL WAL",
                    PositionKind::Gtid => "GTID",
                }
            ))),
        }
    }

    /// The kind of position: a PostgreSQL WAL location or a MariaDB GTID position.
    pub fn kind(&self) -> PositionKind {
        self.kind
    }

    /// The position as the server spells it, for binding as a parameter.
    pub fn position(&self) -> &str {
        &self.position
    }
}

impl fmt::Display for ConsistencyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.prefix(), self.position)
    }
}

impl FromStr for ConsistencyToken {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid_input(format!(
                "{:?} is not a consistency token (pg:<lsn> or gtid:<domain-server-sequence,…>)",
                text.chars().take(64).collect::<String>()
            ))
        };
        if text.len() > MAX_LEN + 5 {
            return Err(bad());
        }
        let (prefix, position) = text.split_once(':').ok_or_else(bad)?;
        let kind =
            [PositionKind::WalLsn, PositionKind::Gtid].into_iter().find(|k| k.prefix() == prefix).ok_or_else(bad)?;
        ConsistencyToken::new(kind, position).map_err(|_| bad())
    }
}

/// `XXXXXXXX/XXXXXXXX`: two hexadecimal numbers of at most 32 bits.
fn valid_lsn(text: &str) -> bool {
    let hex = |part: &str| (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit());
    text.split_once('/').is_some_and(|(high, low)| hex(high) && hex(low))
}

/// `domain-server-sequence` GTIDs separated by commas, each number decimal.
fn valid_gtid_position(text: &str) -> bool {
    let number = |part: &str| (1..=20).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    text.split(',').all(|gtid| {
        let parts: Vec<&str> = gtid.split('-').collect();
        parts.len() == 3 && parts.iter().all(|n| number(n))
    })
}

/// How far a replica is behind its primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaLag {
    /// It applies the primary's changes, this far behind (zero when it has
    /// everything it received).
    Behind(Duration),
    /// It does not apply changes now (replication stopped, or no change applied
    /// yet): how stale it is cannot be told.
    Unknown,
}

/// A replica as its last check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicaState {
    /// Not checked yet: it gets no reads until a check finds it usable.
    Unchecked,
    /// Answering and within `DB_REPLICA_MAX_LAG_MS`: it gets reads.
    Usable,
    /// Answering, but too far behind (or applying nothing): no reads.
    Lagging,
    /// Not answering, or not a replica: no reads.
    Down,
}

impl ReplicaState {
    /// The state in lower case, as it is serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaState::Unchecked => "unchecked",
            ReplicaState::Usable => "usable",
            ReplicaState::Lagging => "lagging",
            ReplicaState::Down => "down",
        }
    }
}

/// What `pal check` and the health probes report of a replica.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    /// `host:port`, from its URL without credentials.
    pub name: String,
    /// How the last check found it.
    pub state: ReplicaState,
    /// How far behind it was at the last check, when it could tell.
    pub lag_ms: Option<u64>,
    /// Why it is not usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Reads it has served in this process.
    pub reads: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_anything_else_is_refused() {
        for text in ["pg:0/16B3748", "pg:FFFFFFFF/0", "gtid:0-1-42", "gtid:0-1-42,1-2-3"] {
            assert_eq!(text.parse::<ConsistencyToken>().unwrap().to_string(), text);
        }
        let long = format!("gtid:{}", vec!["0-1-1"; 200].join(","));
        for text in [
            "",
            "pg",
            "pg:",
            "pg:0",
            "pg:0/",
            "pg:/1",
            "pg:0/1/2",
            "pg:123456789/0",
            "pg:0/1'; DROP TABLE x",
            "gtid:",
            "gtid:0-1",
            "gtid:0-1-2-3",
            "gtid:0-1-a",
            "gtid:0-1-1,",
            "gtid: 0-1-1",
            "mysql:0-1-1",
            long.as_str(),
        ] {
            let err = text.parse::<ConsistencyToken>().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{text}");
        }
    }
}
