//! The flusher: delivers batches in order, memory first, then the spool, and
//! retries through outages. Before the first batch, and again after every
//! failure, the server is checked to be the one the spool is bound to.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::binding::{self, Verdict};
use super::shared::Shared;
use super::sink::AuditEvent;
use crate::error::{Error, Result};
use crate::retry;
use crate::telemetry::{
    AUDIT_BATCH_EVENTS, AUDIT_DELIVERED, AUDIT_FLUSH_DURATION, AUDIT_OLDEST_PENDING, AUDIT_PENDING, AUDIT_RETRIES,
};

/// Waits between failed deliveries: from 50 ms, doubling to 5 s.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const RETRY_CAP: Duration = Duration::from_secs(5);
/// How often the other spools of the directory are counted again.
const SURVEY_EVERY: Duration = Duration::from_secs(60);

/// What one attempt at a batch came to.
enum Attempt {
    Stored,
    /// Events were set aside: the batch may be among them, so it is fetched again.
    Refetch,
}

impl Shared {
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

    /// One attempt: checks the server first when that is due, then stores the batch.
    async fn attempt(&self, events: &[AuditEvent]) -> Result<Attempt> {
        if !self.verified.load(Ordering::Acquire) {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let checked = binding::check(
                self.sink.as_ref(),
                self.spool.as_ref(),
                &self.target,
                seen.as_deref(),
                self.started_through,
            )
            .await?;
            match checked {
                Verdict::Same(server) => {
                    if server.is_some() {
                        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = server;
                    }
                    self.verified.store(true, Ordering::Release);
                }
                Verdict::SetAside(moved, server) => {
                    *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(server);
                    {
                        let mut queue = self.lock();
                        queue.spool_backlog = queue.spool_backlog.saturating_sub(moved);
                    }
                    self.verified.store(true, Ordering::Release);
                    self.survey().await;
                    return Ok(Attempt::Refetch);
                }
            }
        }
        let started = Instant::now();
        if let Err(e) = self.sink.insert_batch(events).await {
            // Whoever answers after a failure may be another server.
            self.verified.store(false, Ordering::Release);
            return Err(e);
        }
        metrics::histogram!(AUDIT_FLUSH_DURATION).record(started.elapsed().as_secs_f64());
        metrics::histogram!(AUDIT_BATCH_EVENTS).record(events.len() as f64);
        Ok(Attempt::Stored)
    }

    /// Counts and reports a failed attempt; the batch stays first in line, so order holds.
    fn failed(&self, e: &Error, events: &[AuditEvent]) {
        // The batch is the oldest of what waits, in memory or in the spool.
        if let Some(first) = events.first() {
            metrics::gauge!(AUDIT_OLDEST_PENDING).set(age_seconds(first));
        }
        let retries = self.retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(AUDIT_RETRIES).increment(1);
        if retries.is_power_of_two() || !e.is_temporary() {
            tracing::warn!(error = %e, events = events.len(), "audit: batch not stored, retrying");
        }
    }

    /// Takes a delivered batch off memory or the spool.
    async fn delivered(&self, count: usize, through: Option<i64>) {
        match through {
            None => {
                self.lock().events.drain(..count);
                self.room.notify_waiters();
            }
            Some(seq) => {
                // Delivered but not yet forgotten: a crash here redelivers the batch,
                // which the sink's idempotence on the event id absorbs.
                if let Some(spool) = &self.spool {
                    while let Err(e) = spool.remove_through(seq).await {
                        tracing::warn!(error = %e, "audit: delivered events cannot be removed from the spool; retrying");
                        tokio::time::sleep(RETRY_CAP).await;
                    }
                }
                let mut queue = self.lock();
                queue.spool_backlog = queue.spool_backlog.saturating_sub(count as u64);
            }
        }
        self.delivered.fetch_add(count as u64, Ordering::Relaxed);
        metrics::counter!(AUDIT_DELIVERED).increment(count as u64);
        self.publish_backlog();
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
pub(super) async fn flush_loop(shared: Arc<Shared>) {
    let mut delays = retry::backoff(FIRST_RETRY, RETRY_CAP, usize::MAX);
    let mut surveyed = Instant::now();
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
            match shared.attempt(&events).await {
                Ok(Attempt::Stored) => {
                    delays = retry::backoff(FIRST_RETRY, RETRY_CAP, usize::MAX);
                    shared.delivered(events.len(), through).await;
                }
                Ok(Attempt::Refetch) => {}
                Err(e) => {
                    shared.failed(&e, &events);
                    tokio::time::sleep(delays.next().unwrap_or(RETRY_CAP)).await;
                }
            }
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
        if surveyed.elapsed() >= SURVEY_EVERY {
            shared.survey().await;
            surveyed = Instant::now();
        }
        let _ = tokio::time::timeout(shared.settings.flush_interval, shared.work.notified()).await;
    }
}
