//! The reference HTTP service. Its handlers see only the abstraction: the same
//! binary runs on every provider combination.

pub mod app;
mod health;
pub mod schema;
mod server;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use pal::audit::AuditLog;
use pal::health::Status;
use pal::telemetry::prometheus::PrometheusHandle;
use pal::{CacheService, DatabaseService};

use app::codes::CodeSender;
use app::config::ServiceSettings;
pub use health::Health;
pub use server::serve;

/// What every handler can reach: the services, as trait objects.
#[derive(Clone)]
pub struct AppState {
    /// The cache the service keeps codes, sessions and rate limits in.
    pub cache: Arc<dyn CacheService>,
    /// The database of users and the audit log.
    pub db: Arc<dyn DatabaseService>,
    /// The last probe of every provider, for the health routes.
    pub health: Arc<Health>,
    /// This process's metrics, unless they are off.
    pub metrics: Option<PrometheusHandle>,
    /// Where security events are recorded.
    pub audit: Arc<AuditLog>,
    /// Delivers one-time codes.
    pub sender: Arc<dyn CodeSender>,
    /// The service's own settings.
    pub service: Arc<ServiceSettings>,
}

/// Every route; `/metrics` among them when `metrics_here` (it may have a listener
/// of its own).
pub fn router(state: AppState, metrics_here: bool) -> Router {
    let mut ops = Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz));
    if let Some(handle) = state.metrics.clone().filter(|_| metrics_here) {
        ops = ops.route("/metrics", get(move || render(handle.clone())));
    }
    let service = state.service.clone();
    app::finish(ops.merge(app::routes(&service)), &service).with_state(state)
}

/// Liveness: the process runs and answers. Deliberately checks no provider, so an
/// outage of Redis or the database never gets the process restarted.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness, from the last background probe: 200 `ready`; 200 `degraded` while
/// a provider serves with a part of it down (load balancers keep the instance:
/// it answers every call); 503 `unavailable` when a provider is down.
///
/// `?fresh=true` probes now instead (bounded by the probe deadline), for a deploy
/// script that must not act on a state up to a second old.
async fn readyz(State(state): State<AppState>, Query(query): Query<ReadyQuery>) -> impl IntoResponse {
    if query.fresh {
        state.health.probe_now(&state.cache, &state.db).await;
    }
    let (probes, age) = state.health.snapshot();
    let (code, status) = match pal::health::overall(&probes) {
        Status::Healthy => (StatusCode::OK, "ready"),
        Status::Degraded => (StatusCode::OK, "degraded"),
        Status::Down => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    let checked_ms_ago = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
    let checks = health::public(&probes);
    (code, Json(json!({ "status": status, "checked_ms_ago": checked_ms_ago, "checks": checks })))
}

#[derive(serde::Deserialize)]
struct ReadyQuery {
    #[serde(default)]
    fresh: bool,
}

async fn render(handle: PrometheusHandle) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}
