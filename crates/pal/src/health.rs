//! Provider health probes, shared by `pal check` and `/readyz`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::cache::CacheService;
use crate::db::DatabaseService;
use crate::telemetry::{PROVIDER_DEGRADED, PROVIDER_UP};

/// How a provider serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It serves fully.
    Healthy,
    /// It serves, with a part of it down (redis-hybrid on its database alone).
    Degraded,
    /// It does not answer, or a check beyond the probe failed.
    Down,
}

impl Status {
    /// The status in lower case, as it is serialised: `healthy`, `degraded` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }
}

/// The outcome of probing one provider.
#[derive(Debug, Clone)]
pub struct Probe {
    /// What the provider is to the application: `cache` or `database`.
    pub role: &'static str,
    /// The provider's name, such as `redis`.
    pub provider: &'static str,
    /// How it serves.
    pub status: Status,
    /// How long the probe took, in milliseconds.
    pub latency_ms: f64,
    /// Why it is degraded or down.
    pub error: Option<String>,
}

/// As JSON, with `healthy` beside `status` for readers that only need a yes or no.
impl Serialize for Probe {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut probe = serializer.serialize_struct("Probe", 6)?;
        probe.serialize_field("role", self.role)?;
        probe.serialize_field("provider", self.provider)?;
        probe.serialize_field("status", &self.status)?;
        probe.serialize_field("healthy", &self.healthy())?;
        probe.serialize_field("latency_ms", &self.latency_ms)?;
        match &self.error {
            Some(error) => probe.serialize_field("error", error)?,
            None => probe.skip_field("error")?,
        }
        probe.end()
    }
}

impl Probe {
    /// Marks the provider down for `why` (a check beyond the probe failed).
    pub fn fail(&mut self, why: String) {
        self.status = Status::Down;
        self.error = Some(why);
    }

    /// Whether it serves fully: `status` is `healthy`.
    pub fn healthy(&self) -> bool {
        self.status == Status::Healthy
    }

    /// Whether the provider serves, fully or degraded.
    pub fn serving(&self) -> bool {
        self.status != Status::Down
    }
}

/// An upper bound on any probe of `pal check`, so a provider whose own timeouts
/// are long (or broken) still cannot hang it.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

async fn probe(
    role: &'static str,
    provider: &'static str,
    deadline: Duration,
    health: impl Future<Output = crate::Result<Option<String>>>,
) -> Probe {
    let started = Instant::now();
    let outcome = tokio::time::timeout(deadline, health).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (status, error) = match outcome {
        Ok(Ok(None)) => (Status::Healthy, None),
        Ok(Ok(Some(why))) => (Status::Degraded, Some(why)),
        Ok(Err(e)) => (Status::Down, Some(e.to_string())),
        Err(_) => (Status::Down, Some(format!("no answer within {} ms", deadline.as_millis()))),
    };
    Probe { role, provider, status, latency_ms, error }
}

/// Probes the cache and the database concurrently, each bounded by `deadline`.
pub async fn probe_all(cache: &Arc<dyn CacheService>, db: &Arc<dyn DatabaseService>, deadline: Duration) -> Vec<Probe> {
    let (c, d) = tokio::join!(
        probe("cache", cache.provider(), deadline, cache.health()),
        probe("database", db.provider(), deadline, async {
            db.ping().await?;
            Ok(replicas_missing(&db.replicas().await))
        })
    );
    vec![c, d]
}

/// Why the database is degraded when some of its read replicas get no reads:
/// the primary serves them, so it still serves fully, with less capacity.
fn replicas_missing(replicas: &[crate::db::ReplicaStatus]) -> Option<String> {
    let missing: Vec<String> = replicas
        .iter()
        .filter(|r| r.state != crate::db::ReplicaState::Usable)
        .map(|r| {
            format!("replica {} {}: {}", r.name, r.state.as_str(), r.error.as_deref().unwrap_or("not checked yet"))
        })
        .collect();
    (!missing.is_empty()).then(|| format!("{}; its reads go to the primary", missing.join("; ")))
}

/// The worst status of `probes`.
pub fn overall(probes: &[Probe]) -> Status {
    probes.iter().map(|p| p.status).max_by_key(|s| *s as u8).unwrap_or(Status::Healthy)
}

/// Sets `pal_provider_up` and `pal_provider_degraded` for each probe.
pub fn publish(probes: &[Probe]) {
    for p in probes {
        let labels = [("role", p.role), ("provider", p.provider)];
        metrics::gauge!(PROVIDER_UP, &labels).set(if p.serving() { 1.0 } else { 0.0 });
        metrics::gauge!(PROVIDER_DEGRADED, &labels).set(if p.status == Status::Degraded { 1.0 } else { 0.0 });
    }
}
