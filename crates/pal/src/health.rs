//! Provider health probes, shared by `pal check` and `/readyz`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cache::CacheService;
use crate::db::DatabaseService;

/// The outcome of pinging one provider.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub role: &'static str,
    pub provider: &'static str,
    pub healthy: bool,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An upper bound on any probe, so a provider whose own timeouts are long (or
/// broken) still cannot hang a health check.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

async fn probe(role: &'static str, provider: &'static str, ping: impl Future<Output = crate::Result<()>>) -> Probe {
    let started = Instant::now();
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, ping).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    };
    Probe { role, provider, healthy: error.is_none(), latency_ms, error }
}

/// Pings the cache and the database concurrently.
pub async fn probe_all(cache: &Arc<dyn CacheService>, db: &Arc<dyn DatabaseService>) -> Vec<Probe> {
    let (c, d) =
        tokio::join!(probe("cache", cache.provider(), cache.ping()), probe("database", db.provider(), db.ping()));
    vec![c, d]
}
