//! `AuditLog`: `log()` returns without waiting for the database; a background
//! flusher writes batches through an [`AuditSink`], on size or on interval, in
//! order, retrying through outages. What it has not delivered survives as the
//! durability mode promises: in memory until a graceful shutdown, or on local
//! disk (the spool) before `log()` returns.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Notify;

use super::config::{AuditSettings, Durability, Overflow};
use super::sink::{AuditEvent, AuditSink};
use super::spool::Spool;
use crate::error::{Error, ErrorKind, Result};
use crate::retry;
use crate::telemetry::{
    AUDIT_BATCH_EVENTS, AUDIT_DELIVERED, AUDIT_DROPPED, AUDIT_FLUSH_DURATION, AUDIT_OLDEST_PENDING, AUDIT_PENDING,
    AUDIT_RETRIES, AUDIT_SPOOLED,
};

/// Waits between failed deliveries: from 50 ms, doubling to 5 s.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const RETRY_CAP: Duration = Duration::from_secs(5);

/// What an audit log has done, for `pal audit status` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStatus {
    /// Events in memory, not yet delivered.
    pub pending: u64,
    /// Events in the local spool, not yet delivered.
    pub spooled: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub retries: u64,
}

/// What shutdown left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Events delivered during shutdown.
    pub delivered: u64,
    /// Events left in the spool for the next start (never dropped silently).
    pub spooled: u64,
}

struct Queue {
    events: VecDeque<AuditEvent>,
    /// Events sent to the spool (committed or on their way) and not delivered yet.
    /// While there are any, new events go to the spool too, behind them, so every
    /// producer's events stay in order.
    spool_backlog: u64,
}

struct Shared {
    sink: Arc<dyn AuditSink>,
    settings: AuditSettings,
    spool: Option<Spool>,
    queue: Mutex<Queue>,
    /// Wakes the flusher: a batch is full, or shutdown began.
    work: Notify,
    /// Wakes blocked producers: the flusher made room.
    room: Notify,
    closed: AtomicBool,
    delivered: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
}

pub struct AuditLog {
    shared: Arc<Shared>,
    flusher: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl AuditLog {
    /// Starts the flusher. Opens the spool when the settings use one, and delivers
    /// whatever an earlier process left in it before anything logged now.
    pub async fn start(sink: Arc<dyn AuditSink>, settings: AuditSettings) -> Result<AuditLog> {
        // A spool left by an earlier run is delivered whatever the settings are now.
        let left_before = settings.spool_dir.join("audit-spool.db").exists();
        let spool = match settings.uses_spool() || left_before {
            true => Some(Spool::open(&settings.spool_dir).await?),
            false => None,
        };
        let leftover = match &spool {
            Some(spool) => spool.len().await?,
            None => 0,
        };
        if leftover > 0 {
            tracing::info!(events = leftover, "audit: delivering events spooled by an earlier run");
        }
        let shared = Arc::new(Shared {
            sink,
            spool,
            queue: Mutex::new(Queue { events: VecDeque::new(), spool_backlog: leftover }),
            settings,
            work: Notify::new(),
            room: Notify::new(),
            closed: AtomicBool::new(false),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        });
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
            return Err(Error::new(ErrorKind::InvalidInput, "the audit log is shut down"));
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
                let spool = Spool::open(&shared.settings.spool_dir).await.map_err(|e| {
                    Error::new(
                        ErrorKind::Backend,
                        format!("{} audit events were not delivered and cannot be spooled: {e}", left.len()),
                    )
                })?;
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
                "audit: undelivered events left in the spool; the next start delivers them"
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn spool_one(&self, event: AuditEvent) -> Result<()> {
        let spool = self.spool.as_ref().ok_or_else(|| Error::new(ErrorKind::Backend, "the audit spool is not open"))?;
        spool.append(event).await?;
        metrics::counter!(AUDIT_SPOOLED).increment(1);
        self.work.notify_one();
        Ok(())
    }

    /// The next batch in delivery order: memory first (older), then the spool.
    /// Returns the events and, for a spool batch, the sequence to remove through.
    async fn next_batch(&self) -> Result<(Vec<AuditEvent>, Option<i64>)> {
        let size = self.settings.buffer_size;
        {
            let queue = self.lock();
            if !queue.events.is_empty() {
                return Ok((queue.events.iter().take(size).cloned().collect(), None));
            }
        }
        let Some(spool) = &self.spool else { return Ok((Vec::new(), None)) };
        let (events, last) = spool.oldest(size).await?;
        if events.is_empty() {
            return Ok((Vec::new(), None));
        }
        Ok((events, Some(last)))
    }

    /// Delivers one batch, retrying with capped, jittered backoff until it is
    /// stored; the batch stays first in line meanwhile, so order holds.
    async fn deliver(&self, events: &[AuditEvent]) {
        let mut delays = retry::backoff(FIRST_RETRY, RETRY_CAP, usize::MAX);
        loop {
            let started = Instant::now();
            match self.sink.insert_batch(events).await {
                Ok(()) => {
                    metrics::histogram!(AUDIT_FLUSH_DURATION).record(started.elapsed().as_secs_f64());
                    metrics::histogram!(AUDIT_BATCH_EVENTS).record(events.len() as f64);
                    return;
                }
                Err(e) => {
                    // The batch is the oldest of what waits, in memory or in the spool.
                    if let Some(first) = events.first() {
                        metrics::gauge!(AUDIT_OLDEST_PENDING).set(age_seconds(first));
                    }
                    let retries = self.retries.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!(AUDIT_RETRIES).increment(1);
                    if retries.is_power_of_two() || !e.is_temporary() {
                        tracing::warn!(error = %e, events = events.len(), "audit: batch not stored, retrying");
                    }
                    tokio::time::sleep(delays.next().unwrap_or(RETRY_CAP)).await;
                }
            }
        }
    }

    fn publish_backlog(&self) {
        let queue = self.lock();
        metrics::gauge!(AUDIT_PENDING).set(queue.events.len() as f64);
        metrics::gauge!(AUDIT_OLDEST_PENDING).set(queue.events.front().map_or(0.0, age_seconds));
    }
}

/// How long ago `event` happened, in seconds (0 for one stamped in the future).
fn age_seconds(event: &AuditEvent) -> f64 {
    (Utc::now() - event.occurred_at).num_milliseconds().max(0) as f64 / 1e3
}

/// Writes every batch there is (a full one, or on the interval what has come),
/// then waits for a full batch, the interval or shutdown. After shutdown began it
/// returns once nothing is left.
async fn flush_loop(shared: Arc<Shared>) {
    loop {
        loop {
            let (events, through) = match shared.next_batch().await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "audit: the spool cannot be read; retrying");
                    tokio::time::sleep(RETRY_CAP).await;
                    continue;
                }
            };
            if events.is_empty() {
                break;
            }
            shared.deliver(&events).await;
            let delivered = events.len();
            match through {
                None => {
                    shared.lock().events.drain(..delivered);
                    shared.room.notify_waiters();
                }
                Some(seq) => {
                    // Delivered but not yet forgotten: a crash here redelivers the batch,
                    // which the sink's idempotence on the event id absorbs.
                    if let Some(spool) = &shared.spool {
                        while let Err(e) = spool.remove_through(seq).await {
                            tracing::warn!(error = %e, "audit: delivered events cannot be removed from the spool; retrying");
                            tokio::time::sleep(RETRY_CAP).await;
                        }
                    }
                    let mut queue = shared.lock();
                    queue.spool_backlog = queue.spool_backlog.saturating_sub(delivered as u64);
                }
            }
            shared.delivered.fetch_add(delivered as u64, Ordering::Relaxed);
            metrics::counter!(AUDIT_DELIVERED).increment(delivered as u64);
            shared.publish_backlog();
        }
        if shared.closed.load(Ordering::Acquire) {
            let empty = shared.lock().events.is_empty();
            let spool_empty = match &shared.spool {
                Some(spool) => spool.len().await.map(|n| n == 0).unwrap_or(false),
                None => true,
            };
            if empty && spool_empty {
                return;
            }
            continue;
        }
        let _ = tokio::time::timeout(shared.settings.flush_interval, shared.work.notified()).await;
    }
}
