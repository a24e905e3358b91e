//! The audit log's variables, read once at start-up through the one reader.

use std::path::PathBuf;
use std::time::Duration;

use crate::env::{Env, Var};

/// The variables the audit log reads, with their defaults.
pub const VARS: &[Var] = &[
    Var::new("AUDIT_BUFFER_SIZE", Some("100"), "Audit events per batch: a full batch is written at once"),
    Var::new("AUDIT_FLUSH_INTERVAL_MS", Some("5000"), "Longest an audit event waits for its batch to be written"),
    Var::new("AUDIT_MAX_PENDING", Some("100000"), "Audit events held in memory before AUDIT_OVERFLOW applies"),
    Var::new(
        "AUDIT_OVERFLOW",
        Some("spool"),
        "When AUDIT_MAX_PENDING events are waiting: spool (to AUDIT_SPOOL_DIR) | block (log() waits) | drop (counted)",
    ),
    Var::new(
        "AUDIT_DURABILITY",
        Some("buffered"),
        "buffered (delivered unless the process dies abruptly) | spooled (on local disk before log() returns)",
    ),
    Var::new(
        "AUDIT_SPOOL_DIR",
        Some(".pal-audit"),
        "Directory of the audit spools: one SQLite file in WAL mode per database, named after it",
    ),
    Var::new(
        "AUDIT_SHUTDOWN_TIMEOUT_MS",
        Some("10000"),
        "How long shutdown keeps delivering audit events before spooling the rest",
    ),
    Var::new("AUDIT_MAX_DETAILS_BYTES", Some("65536"), "Largest audit event details, as JSON"),
];

/// What `log()` does when `AUDIT_MAX_PENDING` events are waiting in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Write the event to the local spool; neither blocks long nor drops.
    Spool,
    /// Wait until the flusher has made room.
    Block,
    /// Drop the event, counted in `pal_audit_dropped_total` and logged.
    Drop,
}

/// When an event counts as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// In memory: delivered as long as the process ends gracefully; outages are
    /// ridden out by retrying.
    Buffered,
    /// On local disk (fsynced, shared by concurrent callers) before `log()` returns:
    /// delivered after a crash, once the process runs again.
    Spooled,
}

/// How the audit log batches, holds and delivers events.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuditSettings {
    /// `AUDIT_BUFFER_SIZE`: events per batch, from 1 to 10 000; a full batch is written at once.
    pub buffer_size: usize,
    /// `AUDIT_FLUSH_INTERVAL_MS`: the longest an event waits for its batch to be written.
    pub flush_interval: Duration,
    /// `AUDIT_MAX_PENDING`: events held in memory before `overflow` applies; at least
    /// `buffer_size`.
    pub max_pending: usize,
    /// `AUDIT_OVERFLOW`: what `log()` does when `max_pending` events are waiting.
    pub overflow: Overflow,
    /// `AUDIT_DURABILITY`: when an event counts as logged.
    pub durability: Durability,
    /// `AUDIT_SPOOL_DIR`: the directory of the spools, one SQLite file per database.
    pub spool_dir: PathBuf,
    /// `AUDIT_SHUTDOWN_TIMEOUT_MS`: how long shutdown keeps delivering before it spools the rest.
    pub shutdown_timeout: Duration,
    /// `AUDIT_MAX_DETAILS_BYTES`: the largest details of one event, as JSON.
    pub max_details_bytes: usize,
}

impl AuditSettings {
    /// Reads the audit variables, recording any problem in `env`.
    pub fn read(env: &mut Env) -> AuditSettings {
        let overflow = env
            .choice("AUDIT_OVERFLOW", &["spool", "block", "drop"], |v| match v {
                "spool" => Some(Overflow::Spool),
                "block" => Some(Overflow::Block),
                "drop" => Some(Overflow::Drop),
                _ => None,
            })
            .unwrap_or(Overflow::Spool);
        let durability = env
            .choice("AUDIT_DURABILITY", &["buffered", "spooled"], |v| match v {
                "buffered" => Some(Durability::Buffered),
                "spooled" => Some(Durability::Spooled),
                _ => None,
            })
            .unwrap_or(Durability::Buffered);
        let buffer_size = env.int("AUDIT_BUFFER_SIZE", 1usize, 10_000);
        let max_pending = env.int("AUDIT_MAX_PENDING", 1usize, 100_000_000);
        if max_pending < buffer_size {
            env.contradiction(format!(
                "AUDIT_MAX_PENDING ({max_pending}) is below AUDIT_BUFFER_SIZE ({buffer_size}): a batch could never fill"
            ));
        }
        let flush_interval = env.millis("AUDIT_FLUSH_INTERVAL_MS");
        AuditSettings {
            buffer_size,
            flush_interval,
            max_pending,
            overflow,
            durability,
            spool_dir: PathBuf::from(env.string("AUDIT_SPOOL_DIR")),
            shutdown_timeout: env.millis("AUDIT_SHUTDOWN_TIMEOUT_MS"),
            max_details_bytes: env.int("AUDIT_MAX_DETAILS_BYTES", 2usize, 16 * 1024 * 1024),
        }
    }

    /// Whether this configuration writes to the local spool at all.
    pub fn uses_spool(&self) -> bool {
        self.durability == Durability::Spooled || self.overflow == Overflow::Spool
    }
}
