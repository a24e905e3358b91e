//! Every error the service answers is JSON `{error, message}` with a stable
//! snake_case code: its own errors, axum's rejections, the tower layers' errors,
//! and provider failures, which are 503 `unavailable` and never 500.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub(super) struct ErrorBody {
    /// Stable snake_case code, e.g. `rate_limited`, `already_enrolled`, `unavailable`.
    #[schema(example = "invalid_email")]
    pub error: String,
    /// For people; may change between versions.
    pub message: String,
}

/// What went wrong with a failed request, for its log line: the cause a client
/// is not shown.
#[derive(Debug, Clone)]
pub(super) struct Cause(pub String);

/// The code of an error response, for the metrics that count requests stopped
/// by a layer (`overloaded`, `timeout`) without reading the body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Code(pub &'static str);

/// The code of a request shed because too many are in flight.
pub(super) const OVERLOADED: &str = "overloaded";
/// The code of a request cut at its deadline.
pub(super) const TIMEOUT: &str = "timeout";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    pub retry_after: Option<u64>,
    cause: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after: None, cause: None }
    }

    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn not_found(message: &'static str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required")
    }

    pub fn overloaded() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, OVERLOADED, "too many requests in flight; try again")
            .retry_after(1)
    }

    pub fn timeout() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, TIMEOUT, "the request did not finish within its deadline")
    }

    /// The answer for a status that carries no body of the service's own (axum's
    /// 404, 405 and rejections), so every error has the same shape.
    pub fn for_status(status: StatusCode) -> ApiError {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not take that method"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "send Content-Type: application/json"),
            StatusCode::UNPROCESSABLE_ENTITY => ("invalid_request", "the request is not valid"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "a valid bearer token is required"),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests; try again later"),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "the request did not finish within its deadline"),
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "a service this depends on is unavailable"),
            s if s.is_client_error() => ("bad_request", "the request is not valid"),
            _ => ("internal", "the request failed"),
        };
        ApiError::new(status, code, message)
    }
}

/// A provider failure: the client learns only that it is temporary; the log line
/// of the request carries the cause.
impl From<pal::Error> for ApiError {
    fn from(e: pal::Error) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a service this depends on is unavailable; try again",
        )
        .retry_after(1);
        error.cause = Some(format!("{}: {e}", e.kind().label()));
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.to_string(), message: self.message.into_owned() };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(Code(self.code));
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(Cause(cause));
        }
        response
    }
}

/// A JSON body whose every rejection (not JSON, wrong types, missing fields, too
/// large, wrong content type) is an [`ApiError`].
pub(super) struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejected(&rejection)),
        }
    }
}

/// Longest rejection detail echoed back: serde's messages quote the input.
const DETAIL_CHARS: usize = 200;

fn rejected(rejection: &JsonRejection) -> ApiError {
    let detail: String = rejection.body_text().chars().take(DETAIL_CHARS).collect();
    let (status, code) = match rejection {
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        }
        _ => (StatusCode::BAD_REQUEST, "invalid_json"),
    };
    ApiError::new(status, code, detail)
}

/// Rewrites error responses that are not JSON (axum's own 404, 405 and path
/// rejections) into the service's error shape, keeping their status and headers.
pub(super) async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let fresh = ApiError::for_status(status).into_response();
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &fresh_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// Routes nobody serves.
pub(super) async fn no_route() -> ApiError {
    ApiError::for_status(StatusCode::NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_failures_are_503_with_the_cause_kept_for_the_log() {
        let response = ApiError::from(pal::Error::new(pal::ErrorKind::Connection, "refused")).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert!(response.extensions().get::<Cause>().is_some_and(|c| c.0.contains("refused")));
    }

    #[test]
    fn every_error_status_has_a_code() {
        for code in 400..600u16 {
            let status = StatusCode::from_u16(code).unwrap();
            let error = ApiError::for_status(status);
            assert!(!error.code.is_empty() && error.code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}
