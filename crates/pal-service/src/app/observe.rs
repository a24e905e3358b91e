//! One structured log line per request: method, route template (never the raw
//! path, whose ids would make every line unique), status, latency, request id,
//! and for a failure its cause.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::Cause;

pub(super) async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let route = route.as_deref().unwrap_or("(no route)");
    let method = method.as_str();
    match response.extensions().get::<Cause>() {
        Some(cause) => {
            tracing::warn!(method, route, status, latency_ms, request_id, error = cause.0.as_str(), "request")
        }
        None => tracing::info!(method, route, status, latency_ms, request_id, "request"),
    }
    response
}
