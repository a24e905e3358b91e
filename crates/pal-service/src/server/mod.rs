//! The listeners: every address of `BIND` and `METRICS_BIND`, each with its own
//! cap on open connections, stopped together by SIGINT or SIGTERM.

mod accept;
mod conn;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use pal::{Error, ErrorKind, Result};

use crate::AppState;
use conn::Registry;

/// Descriptors kept for what is not a connection: database and cache pools, the
/// audit spool, logs.
const RESERVED_FDS: u64 = 128;

async fn bind(addr: SocketAddr, vars: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::new(ErrorKind::Config, format!("cannot listen on {addr} ({vars}): {e}")))
}

/// Serves on every address of `addrs` until SIGINT or SIGTERM, then lets
/// in-flight requests finish. With `metrics_addrs`, `/metrics` gets listeners of
/// its own there.
pub async fn serve(addrs: &[SocketAddr], metrics_addrs: Option<&[SocketAddr]>, state: AppState) -> Result<()> {
    let limits = state.service.connections;
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        listeners.push(bind(*addr, "BIND, PORT").await?);
    }
    let mut separate = Vec::new();
    if let (Some(at), Some(handle)) = (metrics_addrs, state.metrics.clone()) {
        let app = Router::new().route("/metrics", get(move || crate::render(handle.clone())));
        for addr in at {
            separate.push((bind(*addr, "METRICS_BIND, METRICS_PORT").await?, app.clone()));
            tracing::info!(local = %addr, "metrics served on their own listener");
        }
    }
    for listener in &listeners {
        let local = listener.local_addr().map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
        tracing::info!(%local, cache = state.cache.provider(), database = state.db.provider(), "pal serving");
    }
    let app = crate::router(state, separate.is_empty());
    let all: Vec<(TcpListener, Router)> = listeners.into_iter().map(|l| (l, app.clone())).chain(separate).collect();
    let cap = connection_cap(limits.max_connections, all.len());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tracker = TaskTracker::new();
    let mut loops = tokio::task::JoinSet::new();
    for (listener, app) in all {
        let registry = Arc::new(Registry::new(cap));
        loops.spawn(accept::run(listener, app, limits, registry, stopped.clone(), tracker.clone()));
    }
    shutdown_signal().await;
    let _ = stop.send(true);
    while loops.join_next().await.is_some() {}
    // Every connection finishes its request in progress; idle ones close at once.
    tracker.close();
    tracker.wait().await;
    tracing::info!("pal stopped");
    Ok(())
}

/// `MAX_CONNECTIONS`, lowered to what the open-file limit leaves for each
/// listener: beyond it accept fails for want of descriptors, which no cap on
/// connections would prevent. The soft limit is raised to the hard one first.
fn connection_cap(configured: usize, listeners: usize) -> usize {
    let limit = open_file_limit();
    let Some(files) = limit else { return configured };
    let per_listener = files.saturating_sub(RESERVED_FDS).max(files / 2) / listeners.max(1) as u64;
    let allowed = usize::try_from(per_listener).unwrap_or(usize::MAX).max(1);
    if allowed < configured {
        tracing::warn!(
            max_connections = configured,
            open_file_limit = files,
            serving_at_most = allowed,
            "MAX_CONNECTIONS is above what the open-file limit allows on each listener; raise the limit \
             (ulimit -n, LimitNOFILE=) to serve more"
        );
        return allowed;
    }
    configured
}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum;
        }
    }
    limit.current
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_never_exceeds_what_the_open_file_limit_allows() {
        let files = open_file_limit().expect("a unix process has an open-file limit");
        let cap = connection_cap(usize::MAX, 2);
        assert!((cap as u64) * 2 <= files, "{cap} per listener with {files} files");
        assert_eq!(connection_cap(3, 1), 3);
    }
}
