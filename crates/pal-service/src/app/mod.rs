//! The reference service: enrollment, sign-in by one-time code, sessions, rate
//! limits and an audit trail, written against `CacheService`, `DatabaseService`
//! and `AuditLog` only. Nothing a request leaves behind stays in this process:
//! pending codes, attempts, rate-limit counters and sessions live in the cache,
//! users and audit events in the database, so instances scale out behind any
//! load balancer.

pub mod audit;
pub mod codes;
pub mod config;
mod enrollment;
mod errors;
pub mod events;
mod idempotency;
mod input;
mod limits;
pub mod mail;
mod observe;
mod openapi;
mod page;
mod session;
mod status;
mod users;
mod verification;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{delete, get, post};
use std::time::Duration;

use pal::telemetry::http::HttpMetrics;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use config::ServiceSettings;

/// The service's routes, each bounded by the request deadline and sharing one
/// limit of requests in flight; a request over the limit is shed at once (503
/// `overloaded`) rather than queued, so latency stays bounded under any load.
pub fn routes(service: &ServiceSettings) -> Router<AppState> {
    let bounded = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(limits::stopped))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(service.max_in_flight))
        .layer(TimeoutLayer::new(service.request_timeout));
    Router::new()
        .route("/v1/enrollments", post(enrollment::start))
        .route("/v1/enrollments/{id}/confirm", post(enrollment::confirm))
        .route("/v1/verifications", post(verification::start))
        .route("/v1/verifications/{id}/complete", post(verification::complete))
        .route("/v1/session", get(session::show).delete(session::logout))
        .route("/v1/session/refresh", post(session::refresh))
        .route("/v1/sessions", delete(session::logout_everywhere))
        .route("/v1/audit", get(audit::own_events))
        .route("/", get(page::index))
        .route("/v1/status", get(status::status))
        .route("/openapi.json", get(openapi::document))
        .layer(bounded)
        // Tokens and session data must not stay in a browser's or a proxy's cache;
        // nothing else the API answers is worth caching either.
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(header::PRAGMA, HeaderValue::from_static("no-cache")))
}

/// What every route gets, the operators' ones included: a request id (the
/// client's `x-request-id`, or a new one) echoed in the response, one log line
/// and the HTTP metrics, JSON errors for every route and for none, and the body
/// size limit. Call it after installing the metrics recorder.
pub fn finish(router: Router<AppState>, service: &ServiceSettings) -> Router<AppState> {
    let router = router.fallback(errors::no_route).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(middleware::from_fn_with_state(HttpMetrics::new(), observe::access_log))
            .layer(middleware::from_fn(errors::json_errors))
            .layer(DefaultBodyLimit::max(service.max_body_bytes))
            .layer(RequestBodyLimitLayer::new(service.max_body_bytes)),
    );
    match cors(&service.cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Browser pages of `CORS_ALLOWED_ORIGINS` may call the API: preflights are
/// answered here, before any limit. Tokens travel in `Authorization`, not in
/// cookies, so credentials mode stays off. `None` without origins: no CORS
/// headers, and a preflight gets 405 like any `OPTIONS`.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allowed = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allowed)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-request-id")])
            .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(600)),
    )
}
