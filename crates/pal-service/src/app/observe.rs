//! One structured log line per request: method, route template (never the raw
//! path, whose ids would make every line unique), status, latency, request id,
//! and for a failure its cause; and the same request in the HTTP metrics, with
//! the requests a layer shed or cut at their deadline counted apart.

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use pal::telemetry::http::{HttpMetrics, Stopped};

use super::errors::{Cause, Code, OVERLOADED, TIMEOUT};

/// The route label of a request no route matched: one series for every such
/// path, whatever a client sends.
const NO_ROUTE: &str = "(no route)";

pub(super) async fn access_log(State(metrics): State<HttpMetrics>, req: Request, next: Next) -> Response {
    // Dropped with this future, so a request whose client goes away leaves the gauge.
    let in_flight = metrics.begin();
    let method = req.method().clone();
    // The template is shared with the router; cloning it copies no string.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let route = route.as_ref().map_or(NO_ROUTE, MatchedPath::as_str);
    let method = method.as_str();
    let code = response.extensions().get::<Code>().map(|c| c.0);
    let latency = in_flight.finish(method, route, status, stopped(response.status(), code));
    let latency_ms = latency.as_secs_f64() * 1000.0;
    match response.extensions().get::<Cause>() {
        Some(cause) => {
            tracing::warn!(method, route, status, latency_ms, request_id, error = cause.0.as_str(), "request")
        }
        None => tracing::info!(method, route, status, latency_ms, request_id, "request"),
    }
    response
}

/// Whether a bounding layer stopped the request, from the code of its answer.
fn stopped(status: StatusCode, code: Option<&str>) -> Option<Stopped> {
    match (status, code) {
        (StatusCode::SERVICE_UNAVAILABLE, Some(OVERLOADED)) => Some(Stopped::Shed),
        (StatusCode::SERVICE_UNAVAILABLE, Some(TIMEOUT)) => Some(Stopped::TimedOut),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;
    use crate::app::errors::ApiError;

    fn of(error: ApiError) -> Option<Stopped> {
        let response = error.into_response();
        stopped(response.status(), response.extensions().get::<Code>().map(|c| c.0))
    }

    #[test]
    fn only_the_layers_answers_count_as_shed_or_timed_out() {
        assert_eq!(of(ApiError::overloaded()), Some(Stopped::Shed));
        assert_eq!(of(ApiError::timeout()), Some(Stopped::TimedOut));
        assert_eq!(of(ApiError::for_status(StatusCode::SERVICE_UNAVAILABLE)), None);
        assert_eq!(of(ApiError::for_status(StatusCode::REQUEST_TIMEOUT)), None, "a 408 is the client's slowness");
        assert_eq!(of(ApiError::from(pal::Error::new(pal::ErrorKind::Timeout, "slow"))), None);
    }
}
