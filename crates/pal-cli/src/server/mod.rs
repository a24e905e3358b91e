//! The reference HTTP service. Its handlers see only the abstraction: the same
//! binary runs on every provider combination.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use pal::health::probe_all;
use pal::{CacheService, DatabaseService, Error, ErrorKind, Result};

/// What every handler can reach: the two services, as trait objects.
#[derive(Clone)]
pub struct AppState {
    pub cache: Arc<dyn CacheService>,
    pub db: Arc<dyn DatabaseService>,
}

pub fn router(state: AppState) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(state)
}

/// Liveness: the process runs and answers. Deliberately checks no provider, so an
/// outage of Redis or the database never gets the process restarted.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: every provider answers a ping.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let probes = probe_all(&state.cache, &state.db).await;
    let ready = probes.iter().all(|p| p.healthy);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "status": if ready { "ready" } else { "unavailable" }, "checks": probes })))
}

/// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
pub async fn serve(addr: SocketAddr, state: AppState) -> Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::new(ErrorKind::Config, format!("cannot listen on {addr} (BIND, PORT): {e}")))?;
    let local = listener.local_addr().map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
    tracing::info!(%local, cache = state.cache.provider(), database = state.db.provider(), "pal serving");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::new(ErrorKind::Backend, format!("server error: {e}")))?;
    tracing::info!("pal stopped");
    Ok(())
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
