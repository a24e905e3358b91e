//! The state the audit log's producers and its flusher share: the queue in
//! memory, the spool, and what has been delivered. Apart from both, so that
//! neither imports the other.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::config::AuditSettings;
use super::sink::{AuditEvent, AuditSink};
use super::spool::Spool;
use crate::db::DbTarget;

pub(super) struct Queue {
    pub(super) events: VecDeque<AuditEvent>,
    /// Events sent to the spool (committed or on their way) and not delivered yet.
    /// While there are any, new events go to the spool too, behind them, so every
    /// producer's events stay in order.
    pub(super) spool_backlog: u64,
}

pub(super) struct Shared {
    pub(super) sink: Arc<dyn AuditSink>,
    /// The database the spool is bound to: the sink's.
    pub(super) target: DbTarget,
    pub(super) settings: AuditSettings,
    pub(super) spool: Option<Spool>,
    pub(super) queue: Mutex<Queue>,
    /// Wakes the flusher: a batch is full, or shutdown began.
    pub(super) work: Notify,
    /// Wakes blocked producers: the flusher made room.
    pub(super) room: Notify,
    pub(super) closed: AtomicBool,
    /// Whether the server was checked to be the one the spool is bound to, since
    /// the last failure (after which another may answer).
    pub(super) verified: AtomicBool,
    /// The server's identity as this process last checked it (for a spool opened
    /// at shutdown, and to tell what this process spooled for which server).
    pub(super) seen: Mutex<Option<String>>,
    /// The spool's last sequence when it was opened: what earlier processes left.
    pub(super) started_through: i64,
    pub(super) delivered: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) elsewhere: AtomicU64,
}
