//! pal's errors as HTTP answers (the `axum` feature): a status and a stable
//! code per [`ErrorKind`], and a JSON body `{"error": code, "message": …}`.
//!
//! | kinds | status | `error` | message |
//! | --- | --- | --- | --- |
//! | `InvalidInput` | 400 | `invalid_input` | the error's own |
//! | `NotFound` | 404 | `not_found` | generic |
//! | `UniqueViolation` | 409 | `conflict` | generic |
//! | `ConstraintViolation` | 409 | `constraint_violation` | generic |
//! | `NotAnInteger` | 409 | `not_an_integer` | the error's own |
//! | `ValueTooLarge` | 413 | `value_too_large` | the error's own |
//! | `Connection` | 503, `Retry-After: 1` | `unavailable` | generic |
//! | `Timeout` | 503, `Retry-After: 1` | `timeout` | generic |
//! | `SerializationFailure` | 503, `Retry-After: 1` | `contention` | generic |
//! | any other (`Usage`, `Decode`, `Integrity`, `Config`, `Syntax`…) | 500 | `internal` | generic |
//!
//! A 4xx answer carries the error's message only where pal wrote it about the
//! caller's data; a database's own words name tables and constraints, so a
//! conflict's answer does not repeat them. A 5xx answer never carries the
//! error's text, which can describe servers, SQL and configuration: log the
//! error before answering (its `Display` has it all).

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use super::{Error, ErrorKind};

/// Status, stable code, and the message when it is not the error's own: always
/// for 5xx.
fn answer(kind: ErrorKind) -> (StatusCode, &'static str, Option<&'static str>) {
    match kind {
        ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "invalid_input", None),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found", Some("no such record")),
        ErrorKind::UniqueViolation => (StatusCode::CONFLICT, "conflict", Some("it conflicts with a stored record")),
        ErrorKind::ConstraintViolation => {
            (StatusCode::CONFLICT, "constraint_violation", Some("it breaks a rule of the stored data"))
        }
        ErrorKind::NotAnInteger => (StatusCode::CONFLICT, "not_an_integer", None),
        ErrorKind::ValueTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "value_too_large", None),
        ErrorKind::Connection => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            Some("a service this depends on is unavailable; try again"),
        ),
        ErrorKind::Timeout => {
            (StatusCode::SERVICE_UNAVAILABLE, "timeout", Some("the request did not finish in time; try again"))
        }
        ErrorKind::SerializationFailure => {
            (StatusCode::SERVICE_UNAVAILABLE, "contention", Some("concurrent requests conflicted; try again"))
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal", Some("the request failed")),
    }
}

#[derive(serde::Serialize)]
struct JsonBody<'a> {
    error: &'a str,
    message: &'a str,
}

/// The answer the table in this module's documentation gives for the error's kind.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code, generic) = answer(self.kind());
        let message = generic.unwrap_or_else(|| self.message());
        let body = serde_json::to_vec(&JsonBody { error: code, message })
            .unwrap_or_else(|_| br#"{"error":"internal","message":"the request failed"}"#.to_vec());
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status, `Retry-After` and body of the answer to an error of `kind`
    /// whose message names a secret.
    fn answered(kind: ErrorKind) -> (u16, Option<String>, serde_json::Value) {
        let response = Error::new(kind, "db.internal:5432 said no").with_provider("postgresql").into_response();
        let retry = response.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let (parts, body) = response.into_parts();
        let bytes = futures::executor::block_on(http_body_util_collect(body));
        (parts.status.as_u16(), retry, serde_json::from_slice(&bytes).unwrap())
    }

    async fn http_body_util_collect(body: Body) -> Vec<u8> {
        use futures::StreamExt;
        let mut stream = body.into_data_stream();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    /// One test per kind: its status, code, whether it says when to retry, and
    /// whether the error's own words are shown.
    macro_rules! answers {
        ($($test:ident: $kind:ident => $status:literal, $code:literal, retry: $retry:literal, own words: $own:literal;)*) => {$(
            #[test]
            fn $test() {
                let (status, retry, body) = answered(ErrorKind::$kind);
                assert_eq!(status, $status);
                assert_eq!(body["error"], $code);
                assert_eq!(retry.is_some(), $retry, "{retry:?}");
                let message = body["message"].as_str().unwrap();
                assert_eq!(message == "db.internal:5432 said no", $own, "{message}");
                assert!(!message.contains("postgresql"), "the provider is not named: {message}");
                assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
            }
        )*};
    }

    answers! {
        invalid_input: InvalidInput => 400, "invalid_input", retry: false, own words: true;
        not_found: NotFound => 404, "not_found", retry: false, own words: false;
        unique_violation: UniqueViolation => 409, "conflict", retry: false, own words: false;
        constraint_violation: ConstraintViolation => 409, "constraint_violation", retry: false, own words: false;
        not_an_integer: NotAnInteger => 409, "not_an_integer", retry: false, own words: true;
        value_too_large: ValueTooLarge => 413, "value_too_large", retry: false, own words: true;
        connection: Connection => 503, "unavailable", retry: true, own words: false;
        timeout: Timeout => 503, "timeout", retry: true, own words: false;
        serialization_failure: SerializationFailure => 503, "contention", retry: true, own words: false;
        usage: Usage => 500, "internal", retry: false, own words: false;
        decode: Decode => 500, "internal", retry: false, own words: false;
        integrity: Integrity => 500, "internal", retry: false, own words: false;
        config: Config => 500, "internal", retry: false, own words: false;
        syntax: Syntax => 500, "internal", retry: false, own words: false;
        undefined_object: UndefinedObject => 500, "internal", retry: false, own words: false;
        read_only: ReadOnly => 500, "internal", retry: false, own words: false;
        unsupported: Unsupported => 500, "internal", retry: false, own words: false;
        backend: Backend => 500, "internal", retry: false, own words: false;
    }

    #[test]
    fn temporary_kinds_and_only_they_say_when_to_retry() {
        for kind in [ErrorKind::Connection, ErrorKind::Timeout, ErrorKind::SerializationFailure, ErrorKind::Backend] {
            assert_eq!(answered(kind).1.is_some(), kind.is_temporary(), "{kind:?}");
        }
    }
}
