//! `/openapi.json`, derived from the handlers' annotations and the types they
//! take and return, so the document cannot drift from the code.

use axum::Json;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::errors::ErrorBody;
use super::{audit, enrollment, session, status, verification};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pal reference service",
        description = "Enrollment, sign-in by one-time code, sessions, rate limits and an audit trail, on nothing \
                       but pal's cache and database abstraction. Every error is JSON {error, message} with a stable \
                       snake_case code; provider failures are 503 unavailable. /healthz, /readyz and /metrics \
                       serve operators."
    ),
    paths(
        enrollment::start,
        enrollment::confirm,
        verification::start,
        verification::complete,
        session::show,
        session::refresh,
        session::logout,
        session::logout_everywhere,
        audit::own_events,
        status::status,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerToken, &EveryAnswer),
    tags(
        (name = "enrollment", description = "Creating an account for an email address"),
        (name = "verification", description = "Signing in with a one-time code"),
        (name = "session", description = "The session a bearer token opens"),
        (name = "audit", description = "The signed-in user's security events"),
        (name = "status", description = "How this instance serves"),
    )
)]
pub(super) struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token from POST /v1/verifications/{id}/complete"))
                    .build(),
            ),
        );
    }
}

/// The answers every operation of a kind can give, added where a handler's
/// annotation does not list them: they come from layers and extractors the
/// handler never sees (the body's size, type and shape, the deadline and the
/// limit of requests in flight, the token).
struct EveryAnswer;

impl Modify for EveryAnswer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.delete].into_iter().flatten() {
                let mut answers = vec![
                    ("503", "overloaded, timeout or unavailable, with Retry-After when it helps"),
                    ("413", "payload_too_large: the body is over MAX_BODY_BYTES"),
                ];
                if operation.request_body.is_some() {
                    answers.extend([
                        ("400", "invalid_json: the body is not JSON"),
                        ("415", "unsupported_media_type: the body is not sent as application/json"),
                        ("422", "invalid_request: the JSON lacks a field or has one of the wrong type"),
                    ]);
                }
                if operation.security.is_some() {
                    answers.push(("401", "unauthorized: no valid bearer token"));
                }
                if operation.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Path) {
                    answers.push(("404", "not_found: no such request, or it expired"));
                }
                for (status, description) in answers {
                    let error = ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                        )
                        .build();
                    operation.responses.responses.entry(status.to_string()).or_insert(error.into());
                }
            }
        }
    }
}

pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_and_its_bodies_are_documented() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/v1/enrollments",
            "/v1/enrollments/{id}/confirm",
            "/v1/verifications",
            "/v1/verifications/{id}/complete",
            "/v1/session",
            "/v1/session/refresh",
            "/v1/sessions",
            "/v1/audit",
            "/v1/status",
        ] {
            assert!(paths.contains_key(path), "{path} missing from {:?}", paths.keys());
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for schema in ["ErrorBody", "EmailRequest", "CodeRequest", "Token", "SessionInfo", "StatusReport"] {
            assert!(schemas.contains_key(schema), "{schema} missing from {:?}", schemas.keys());
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        let answers = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"].as_object().unwrap().keys().cloned().collect()
        };
        for status in ["400", "413", "415", "422", "429", "503"] {
            assert!(answers("/v1/verifications", "post").iter().any(|s| s == status), "{status}");
        }
        assert!(answers("/v1/session", "get").iter().any(|s| s == "401"));
        assert!(answers("/v1/enrollments/{id}/confirm", "post").iter().any(|s| s == "404"));
    }
}
