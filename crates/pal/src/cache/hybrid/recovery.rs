//! Recovery after an outage: invalidating journaled keys in Redis, from the
//! breaker's probe and periodically on every instance.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::breaker::State as BreakerState;
use super::state::{Shared, remaining};
use crate::error::Result;

/// Journaled keys read per round trip while draining.
const DRAIN_BATCH: i64 = 500;

pub(super) async fn periodic_drain(inner: std::sync::Weak<Shared>) {
    loop {
        let Some(strong) = inner.upgrade() else { return };
        if strong.breaker.state() == BreakerState::Closed
            && let Err(e) = strong.drain().await
        {
            tracing::debug!(error = %e, "redis-hybrid: journal drain failed, will retry");
        }
        let interval = strong.config.drain_interval;
        drop(strong);
        tokio::time::sleep(interval).await;
    }
}

impl Shared {
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
        self.set_gauges();
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
        metrics::gauge!("pal_cache_journal_size").set(size as f64);
        Ok(drained)
    }
}
