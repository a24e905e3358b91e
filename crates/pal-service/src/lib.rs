//! The reference HTTP service. Its handlers see only the abstraction: the same
//! binary runs on every provider combination.

pub mod app;
mod health;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use pal::audit::AuditLog;
use pal::health::Status;
use pal::telemetry::prometheus::PrometheusHandle;
use pal::{CacheService, DatabaseService, Error, ErrorKind, Result};

use app::codes::CodeSender;
use app::config::ServiceSettings;
pub use health::Health;

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
    (code, Json(json!({ "status": status, "checked_ms_ago": checked_ms_ago, "checks": probes })))
}

#[derive(serde::Deserialize)]
struct ReadyQuery {
    #[serde(default)]
    fresh: bool,
}

async fn render(handle: PrometheusHandle) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}

async fn bind(addr: SocketAddr, vars: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::new(ErrorKind::Config, format!("cannot listen on {addr} ({vars}): {e}")))
}

/// Serves on every address of `addrs` until SIGINT or SIGTERM, then lets
/// in-flight requests finish. With `metrics_addrs`, `/metrics` gets listeners of
/// its own there.
pub async fn serve(addrs: &[SocketAddr], metrics_addrs: Option<&[SocketAddr]>, state: AppState) -> Result<()> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        listeners.push(bind(*addr, "BIND, PORT").await?);
    }
    let mut separate = Vec::new();
    if let (Some(at), Some(handle)) = (metrics_addrs, state.metrics.clone()) {
        let app = Router::new().route("/metrics", get(move || render(handle.clone())));
        for addr in at {
            let listener = bind(*addr, "METRICS_BIND, METRICS_PORT").await?;
            tracing::info!(local = %addr, "metrics served on their own listener");
            // Stopped when the main listeners have drained: a scrape needs no draining.
            separate.push(tokio::spawn(axum::serve(listener, app.clone()).into_future()));
        }
    }
    for listener in &listeners {
        let local = listener.local_addr().map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
        tracing::info!(%local, cache = state.cache.provider(), database = state.db.provider(), "pal serving");
    }
    // The peer's address is the client address rate limits count by.
    let app = router(state, separate.is_empty()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners {
        let mut stopped = stopped.clone();
        let drained = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        servers.spawn(axum::serve(listener, app.clone()).with_graceful_shutdown(drained).into_future());
    }
    let outcome = tokio::select! {
        () = shutdown_signal() => Ok(()),
        // A listener that stops on its own (it does not, but for an I/O error) stops them all.
        Some(ended) = servers.join_next() => ended.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())),
    };
    let _ = stop.send(true);
    let mut outcome = outcome.map_err(|e| Error::new(ErrorKind::Backend, format!("server error: {e}")));
    while let Some(ended) = servers.join_next().await {
        if let Ok(Err(e)) = ended {
            outcome = outcome.and(Err(Error::new(ErrorKind::Backend, format!("server error: {e}"))));
        }
    }
    separate.iter().for_each(tokio::task::JoinHandle::abort);
    tracing::info!("pal stopped");
    outcome
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
