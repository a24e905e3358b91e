//! `AuditLog`: `log()` returns without waiting for the database; a background
//! flusher writes batches through an [`AuditSink`], on size or on interval, in
//! order, retrying through outages. What it has not delivered survives as the
//! durability mode promises: in memory until a graceful shutdown, or on local
//! disk (the spool) before `log()` returns.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::config::{AuditSettings, Durability, Overflow};
use super::flush::flush_loop;
use super::shared::{Queue, Shared};
use super::sink::{AuditEvent, AuditSink};
use super::spool::Spool;
use super::spools;
use crate::error::{Error, ErrorKind, Result};
use crate::telemetry::{AUDIT_DROPPED, AUDIT_PENDING, AUDIT_SPOOLED, AUDIT_SPOOLED_ELSEWHERE};

/// What an audit log has done, for `pal audit status` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStatus {
    /// Events in memory, not yet delivered.
    pub pending: u64,
    /// Events in the local spool, not yet delivered.
    pub spooled: u64,
    /// Events stored by the sink since the log started.
    pub delivered: u64,
    /// Events dropped because memory was full and `AUDIT_OVERFLOW` is `drop`.
    pub dropped: u64,
    /// Failed attempts to store a batch, each retried.
    pub retries: u64,
    /// Events in the other spools of `AUDIT_SPOOL_DIR`, which this log does not
    /// deliver (for other databases, set aside, or from before spools were bound),
    /// as last counted: at start, after setting events aside, and every minute.
    pub elsewhere: u64,
}

/// What shutdown left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Events delivered during shutdown.
    pub delivered: u64,
    /// Events left in the spool for the next start (never dropped silently).
    pub spooled: u64,
}

/// The audit log: events are accepted at once and delivered in order by a
/// background flusher (see the module documentation).
pub struct AuditLog {
    shared: Arc<Shared>,
    flusher: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl AuditLog {
    /// Starts the flusher. Opens the spool of the sink's database when the settings
    /// use one, and delivers whatever an earlier process left in it before anything
    /// logged now. Other spools of the directory are counted, not opened for delivery.
    pub async fn start(sink: Arc<dyn AuditSink>, settings: AuditSettings) -> Result<AuditLog> {
        let target = sink.target();
        let path = spools::path_for(&settings.spool_dir, &target);
        // A spool left by an earlier run is delivered whatever the settings are now.
        let spool = match settings.uses_spool() || path.exists() {
            true => Some(Spool::open(&path, &target).await?),
            false => None,
        };
        let (leftover, started_through) = match &spool {
            Some(spool) => (spool.len().await?, spool.last_seq().await?),
            None => (0, 0),
        };
        if leftover > 0 {
            tracing::info!(events = leftover, %target, "audit: delivering events spooled by an earlier run");
        }
        let shared = Arc::new(Shared {
            sink,
            target,
            spool,
            queue: Mutex::new(Queue { events: VecDeque::new(), spool_backlog: leftover }),
            settings,
            work: Notify::new(),
            room: Notify::new(),
            closed: AtomicBool::new(false),
            verified: AtomicBool::new(false),
            seen: Mutex::new(None),
            started_through,
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            elsewhere: AtomicU64::new(0),
        });
        shared.survey().await;
        let flusher = tokio::spawn(flush_loop(shared.clone()));
        Ok(AuditLog { shared, flusher: tokio::sync::Mutex::new(Some(flusher)) })
    }

    /// Takes `event` for delivery. Returns once it is queued (`buffered`) or on
    /// local disk (`spooled`), never waiting for the database. An event the
    /// database could not store (`AuditEvent::validate`) is refused here, so it
    /// cannot fail the batch it would have joined.
    pub async fn log(&self, event: AuditEvent) -> Result<()> {
        let shared = &self.shared;
        event.validate(shared.settings.max_details_bytes)?;
        if shared.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Usage, "the audit log is shut down"));
        }
        if shared.settings.durability == Durability::Spooled {
            // Everything goes through the spool: its order is the delivery order.
            return shared.spool_one(event).await;
        }
        let mut event = event;
        loop {
            let room = shared.room.notified();
            match shared.admit(event) {
                Admit::Queued | Admit::Dropped => return Ok(()),
                Admit::Spool(event) => {
                    let appended = shared.spool_one(event).await;
                    if appended.is_err() {
                        shared.lock().spool_backlog -= 1;
                    }
                    return appended;
                }
                Admit::Wait(back) => {
                    // AUDIT_OVERFLOW=block: wait for the flusher to make room.
                    event = back;
                    shared.work.notify_one();
                    room.await;
                }
            }
        }
    }

    /// What the log has done so far. Fails only when the spool cannot be read.
    pub async fn status(&self) -> Result<AuditStatus> {
        let shared = &self.shared;
        let pending = shared.lock().events.len() as u64;
        Ok(AuditStatus {
            pending,
            spooled: match &shared.spool {
                Some(spool) => spool.len().await?,
                None => 0,
            },
            delivered: shared.delivered.load(Ordering::Relaxed),
            dropped: shared.dropped.load(Ordering::Relaxed),
            retries: shared.retries.load(Ordering::Relaxed),
            elsewhere: shared.elsewhere.load(Ordering::Relaxed),
        })
    }

    /// Refuses new events and delivers everything pending, for up to
    /// `AUDIT_SHUTDOWN_TIMEOUT_MS`; what is still undelivered then goes to the
    /// spool for the next start. Only without a usable spool can events be lost,
    /// and then the error says how many.
    pub async fn shutdown(&self) -> Result<ShutdownReport> {
        let shared = &self.shared;
        let before = shared.delivered.load(Ordering::Relaxed);
        shared.closed.store(true, Ordering::Release);
        shared.work.notify_one();
        let Some(mut flusher) = self.flusher.lock().await.take() else {
            return Ok(ShutdownReport { delivered: 0, spooled: 0 });
        };
        let finished = tokio::time::timeout(shared.settings.shutdown_timeout, &mut flusher).await.is_ok();
        if !finished {
            flusher.abort();
            let _ = flusher.await;
        }
        let delivered = shared.delivered.load(Ordering::Relaxed) - before;
        let left: Vec<AuditEvent> = shared.lock().events.drain(..).collect();
        let spooled_now = match (&shared.spool, left.is_empty()) {
            (_, true) => 0,
            (Some(spool), false) => {
                spool.append_all(&left).await?;
                left.len() as u64
            }
            (None, false) => {
                let path = spools::path_for(&shared.settings.spool_dir, &shared.target);
                let spool = Spool::open(&path, &shared.target).await.map_err(|e| {
                    Error::new(
                        ErrorKind::Backend,
                        format!("{} audit events were not delivered and cannot be spooled: {e}", left.len()),
                    )
                })?;
                let seen = shared.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(server) = seen {
                    spool.record_server(&server).await?;
                }
                spool.append_all(&left).await?;
                left.len() as u64
            }
        };
        let spooled = match &shared.spool {
            Some(spool) => spool.len().await?,
            None => spooled_now,
        };
        if spooled > 0 {
            tracing::warn!(
                events = spooled,
                dir = %shared.settings.spool_dir.display(),
                target = %shared.target,
                "audit: undelivered events left in the spool; the next start for this database delivers them"
            );
        }
        Ok(ShutdownReport { delivered, spooled })
    }
}

/// What `log()` does with an event, decided under the queue's lock.
enum Admit {
    Queued,
    Dropped,
    /// To the spool; counted in the backlog already.
    Spool(AuditEvent),
    Wait(AuditEvent),
}

impl Shared {
    fn admit(&self, event: AuditEvent) -> Admit {
        let mut queue = self.lock();
        let full = queue.events.len() >= self.settings.max_pending;
        let spilling = queue.spool_backlog > 0;
        if !spilling && !full {
            queue.events.push_back(event);
            let depth = queue.events.len();
            drop(queue);
            metrics::gauge!(AUDIT_PENDING).set(depth as f64);
            if depth >= self.settings.buffer_size {
                self.work.notify_one();
            }
            return Admit::Queued;
        }
        match self.settings.overflow {
            _ if spilling => {}
            Overflow::Spool => {}
            Overflow::Block => return Admit::Wait(event),
            Overflow::Drop => {
                drop(queue);
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(AUDIT_DROPPED).increment(1);
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped = dropped + 1,
                        "audit: AUDIT_MAX_PENDING reached, events dropped (AUDIT_OVERFLOW=drop)"
                    );
                }
                return Admit::Dropped;
            }
        }
        queue.spool_backlog += 1;
        Admit::Spool(event)
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn spool_one(&self, event: AuditEvent) -> Result<()> {
        let spool = self.spool.as_ref().ok_or_else(|| Error::new(ErrorKind::Backend, "the audit spool is not open"))?;
        spool.append(event).await?;
        metrics::counter!(AUDIT_SPOOLED).increment(1);
        self.work.notify_one();
        Ok(())
    }

    /// Counts the events of the other spools of the directory into `elsewhere` and
    /// its gauge, warning when the count changes to a number above zero.
    pub(super) async fn survey(&self) {
        let dir = &self.settings.spool_dir;
        match spools::waiting_elsewhere(dir, &self.target).await {
            Ok(events) => {
                let before = self.elsewhere.swap(events, Ordering::Relaxed);
                metrics::gauge!(AUDIT_SPOOLED_ELSEWHERE).set(events as f64);
                if events > 0 && events != before {
                    tracing::warn!(
                        events,
                        dir = %dir.display(),
                        "audit: events in other spools of AUDIT_SPOOL_DIR wait for other databases or for an \
                         operator; `pal audit status` lists them"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "audit: the other spools of AUDIT_SPOOL_DIR cannot be counted"),
        }
    }
}
