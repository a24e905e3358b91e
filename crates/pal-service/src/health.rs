//! Readiness from probes that run in the background: `/readyz` answers at once
//! with the last result and its age, whatever a provider is doing, so a hung
//! server cannot make the orchestrator's probe time out.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pal::health::{Probe, Status, probe_all, publish};
use pal::{CacheService, DatabaseService};

/// How often the providers are probed.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long one probe may take before its provider counts as down. Above the
/// default Redis command timeout, so redis-hybrid with a hung Redis reports
/// itself degraded (its own verdict) rather than being cut off as down.
pub(crate) const PROBE_DEADLINE: Duration = Duration::from_millis(2500);

/// The last probe of every provider.
pub struct Health {
    last: RwLock<(Vec<Probe>, Instant)>,
}

impl Health {
    /// Probes once, so the first `/readyz` already has an answer.
    pub async fn start(cache: Arc<dyn CacheService>, db: Arc<dyn DatabaseService>) -> Arc<Health> {
        let probes = probe_all(&cache, &db, PROBE_DEADLINE).await;
        publish(&probes);
        let health = Arc::new(Health { last: RwLock::new((probes, Instant::now())) });
        let weak = Arc::downgrade(&health);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_INTERVAL).await;
                let probes = probe_all(&cache, &db, PROBE_DEADLINE).await;
                let Some(health) = weak.upgrade() else { return };
                health.record(probes);
            }
        });
        health
    }

    /// Probes now and records the result.
    pub async fn probe_now(&self, cache: &Arc<dyn CacheService>, db: &Arc<dyn DatabaseService>) {
        self.record(probe_all(cache, db, PROBE_DEADLINE).await);
    }

    fn record(&self, probes: Vec<Probe>) {
        let (before, _) = self.snapshot();
        for probe in &probes {
            let was = before.iter().find(|p| p.role == probe.role).map(|p| p.status);
            if was != Some(probe.status) {
                let why = probe.error.as_deref().unwrap_or("");
                match probe.status {
                    Status::Healthy => tracing::info!(role = probe.role, provider = probe.provider, "healthy again"),
                    Status::Degraded => {
                        tracing::warn!(role = probe.role, provider = probe.provider, reason = why, "degraded")
                    }
                    Status::Down => tracing::error!(role = probe.role, provider = probe.provider, error = why, "down"),
                }
            }
        }
        publish(&probes);
        *self.last.write().unwrap_or_else(|p| p.into_inner()) = (probes, Instant::now());
    }

    /// The last probes and how long ago they finished.
    pub fn snapshot(&self) -> (Vec<Probe>, Duration) {
        let last = self.last.read().unwrap_or_else(|p| p.into_inner());
        (last.0.clone(), last.1.elapsed())
    }
}

/// The probes as a stranger may read them (`/readyz`, `/v1/status`, the page):
/// a stable code in place of the provider's error, whose text can name hosts,
/// users and what the server refused. The cause is in the log, when the state
/// changes, and `pal check` shows it to the operator.
pub(crate) fn public(probes: &[Probe]) -> serde_json::Value {
    let public: Vec<serde_json::Value> = probes
        .iter()
        .map(|probe| {
            let mut shown = serde_json::json!({
                "role": probe.role,
                "provider": probe.provider,
                "status": probe.status,
                "healthy": probe.healthy(),
                "latency_ms": probe.latency_ms,
            });
            let why = match probe.status {
                Status::Healthy => None,
                Status::Degraded => Some(("degraded", "serving with a part of it down; the server log has the cause")),
                Status::Down => Some(("unavailable", "not answering; the server log has the cause")),
            };
            if let Some((code, message)) = why {
                shown["error"] = code.into();
                shown["message"] = message.into();
            }
            shown
        })
        .collect();
    serde_json::Value::Array(public)
}
