//! Recovery after an outage: invalidating journaled keys in Redis, from the
//! breaker's probe and periodically on every instance; and the retention of the
//! database side, whose expired rows are deleted periodically.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::breaker::State as BreakerState;
use super::state::{Shared, remaining};
use crate::error::{Error, ErrorKind, Result};
use crate::telemetry;

/// Journaled keys read per round trip while draining.
const DRAIN_BATCH: i64 = 500;
/// How soon a first drain that failed is tried again.
const FIRST_DRAIN_RETRY: Duration = Duration::from_millis(500);

pub(super) async fn periodic_drain(inner: Weak<Shared>) {
    let mut reported = false;
    loop {
        let Some(strong) = inner.upgrade() else { return };
        if strong.breaker.state() == BreakerState::Closed
            && let Err(e) = strong.reconcile().await
        {
            // Missing tables are not an outage: say so once, loudly.
            if e.kind() == ErrorKind::Config && !reported {
                tracing::error!(error = %e, "redis-hybrid: cannot read the journal");
                reported = true;
            } else {
                tracing::debug!(error = %e, "redis-hybrid: journal drain failed, will retry");
            }
        }
        let interval = match strong.is_reconciled() {
            true => strong.config.drain_interval,
            false => strong.config.drain_interval.min(FIRST_DRAIN_RETRY),
        };
        drop(strong);
        tokio::time::sleep(interval).await;
    }
}

/// Deletes expired rows every `CACHE_PURGE_INTERVAL_MS`. Every instance purges;
/// batches keep each statement short, so they only share the work.
pub(super) async fn periodic_purge(inner: Weak<Shared>) {
    loop {
        let Some(interval) = inner.upgrade().map(|s| s.config.purge_interval) else { return };
        tokio::time::sleep(interval).await;
        let Some(strong) = inner.upgrade() else { return };
        if let Err(e) = strong.purge().await {
            tracing::warn!(error = %e, "redis-hybrid: purging expired rows failed, will retry");
        }
    }
}

impl Shared {
    /// A drain; the first one starts by asking Redis whether it answers at all, so
    /// a new instance learns within `CACHE_JOURNAL_WAIT_MS` whether Redis can be
    /// used. Without that, an empty journal would drain without Redis, and the
    /// first calls would each wait out Redis's timeouts and retries instead.
    async fn reconcile(&self) -> Result<usize> {
        if !self.is_reconciled()
            && let Err(e) = self.first_contact().await
            && e.is_temporary()
        {
            self.redis_unavailable(&e, "at start-up");
            return Err(e);
        }
        self.drain().await
    }

    /// Redis's answer to a ping, given up on when calls stop waiting for the
    /// first drain (a hung Redis would otherwise hold a connect timeout).
    async fn first_contact(&self) -> Result<()> {
        if Instant::now() >= self.reconcile_by {
            return self.redis.ping().await;
        }
        match tokio::time::timeout_at(self.reconcile_by, self.redis.ping()).await {
            Ok(answer) => answer,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "Redis did not answer within CACHE_JOURNAL_WAIT_MS ({} ms) of start-up",
                    self.config.journal_wait.as_millis()
                ),
            )),
        }
    }

    /// After the cooldown: if Redis answers and the journal drains, close the breaker.
    pub(super) async fn probe(self: Arc<Self>) {
        let recovered = match self.redis.ping().await {
            Ok(()) => match self.drain().await {
                Ok(n) => {
                    tracing::info!(
                        invalidated = n,
                        "redis-hybrid: Redis is back, journal drained, circuit breaker closed"
                    );
                    true
                }
                Err(e) => {
                    tracing::debug!(error = %e, "redis-hybrid: journal drain failed, breaker stays open");
                    false
                }
            },
            Err(_) => false,
        };
        self.breaker.probe_finished(recovered);
        self.breaker_changed();
    }

    /// Invalidates journaled keys in Redis. A counter that kept counting in the
    /// database moves back to Redis with its remaining window.
    pub(super) async fn drain(&self) -> Result<usize> {
        let _one_at_a_time = self.draining.lock().await;
        let mut drained = 0;
        loop {
            let batch = self.db.journaled(DRAIN_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for (key, recorded_at) in batch {
                self.redis.delete(&key).await?;
                if let Some((value, expires_at)) = self.db.counter(&key).await?
                    && let Some(ttl) = remaining(expires_at)
                {
                    self.redis.incr(&key, value, ttl).await?;
                    self.db.delete_counter(&key).await?;
                }
                self.db.forget(&key, recorded_at).await?;
                drained += 1;
            }
        }
        let size = self.db.journal_size().await?;
        self.stats.journal_size.store(size, Ordering::Relaxed);
        metrics::gauge!(telemetry::HYBRID_JOURNAL_SIZE).set(size as f64);
        self.mark_reconciled();
        Ok(drained)
    }

    /// Physically deletes expired values and counters; returns how many rows.
    pub(super) async fn purge(&self) -> Result<u64> {
        let (values, counters) = self.db.purge_expired().await?;
        metrics::counter!(telemetry::HYBRID_PURGED_ROWS, "table" => "pal_sessions").increment(values);
        metrics::counter!(telemetry::HYBRID_PURGED_ROWS, "table" => "pal_cache_counters").increment(counters);
        self.stats.purged_rows.fetch_add(values + counters, Ordering::Relaxed);
        Ok(values + counters)
    }
}
