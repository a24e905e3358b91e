//! Enrollment: an address asks for an account, proves it holds the address with
//! the one-time code sent to it, and gets a user in the database.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::codes::{self, Purpose, Requests};
use super::errors::{ApiError, ApiJson, ErrorBody};
use super::events::{self, Action};
use super::idempotency::{self, Claim};
use super::limits::{self, ClientIp};
use super::users;
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct EmailRequest {
    #[schema(example = "alice@example.com")]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CodeRequest {
    #[schema(example = "042137")]
    pub code: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct EnrollmentStarted {
    pub enrollment_id: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// The code itself, only with `DEV_EXPOSE_CODES=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Enrolled {
    pub user_id: String,
    pub email: String,
}

pub(super) fn requests(state: &AppState, purpose: Purpose) -> Requests<'_> {
    Requests { cache: state.cache.as_ref(), purpose, ttl: state.service.code_ttl }
}

/// Starts an enrollment: a one-time code goes to the address. An address that
/// already has an account gets one too, and learns it only by confirming, so the
/// route does not tell strangers which addresses are enrolled.
///
/// With an `Idempotency-Key` header, a repeat of the request (same key, same
/// address) within the code's lifetime gets the first answer and sends no
/// second code; while the first is still being processed, 409.
#[utoipa::path(
    post,
    path = "/v1/enrollments",
    tag = "enrollment",
    request_body = EmailRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 128 visible ASCII characters, such as a UUID: a repeat gets the first answer")),
    responses(
        (status = 202, body = EnrollmentStarted),
        (status = 400, body = ErrorBody, description = "invalid_email, invalid_json, invalid_idempotency_key"),
        (status = 409, body = ErrorBody, description = "idempotency_in_progress, with Retry-After"),
        (status = 429, body = ErrorBody, description = "rate_limited, with Retry-After"),
        (status = 503, body = ErrorBody),
    )
)]
pub(super) async fn start(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<EnrollmentStarted>), ApiError> {
    let email = limits::address(&state, ip.0, &body.email).await?;
    let ttl = pal::Ttl::new(state.service.code_ttl)?;
    let claim = match idempotency::claim(state.cache.as_ref(), &headers, "enrollments", &email, ttl).await? {
        Claim::Replay(started) => return Ok((StatusCode::ACCEPTED, Json(started))),
        Claim::New(key) => Some(key),
        Claim::None => None,
    };
    let started = begin(&state, ip, email).await;
    if let Some(key) = claim {
        match &started {
            Ok(answer) => idempotency::complete(state.cache.as_ref(), &key, answer, ttl).await,
            Err(_) => idempotency::abandon(state.cache.as_ref(), &key).await,
        }
    }
    Ok((StatusCode::ACCEPTED, Json(started?)))
}

async fn begin(state: &AppState, ip: ClientIp, email: String) -> Result<EnrollmentStarted, ApiError> {
    let (id, code) = requests(state, Purpose::Enrollment).start(email.clone(), None, false).await?;
    events::record(state, Action::CodeSent, None, ip.0, json!({ "purpose": "enrollment", "id": id })).await;
    codes::deliver(state, Some(email), code.clone(), Purpose::Enrollment, id.clone());
    let started = EnrollmentStarted {
        enrollment_id: id,
        expires_in: state.service.code_ttl.as_secs(),
        code: state.service.expose_codes.then_some(code),
    };
    Ok(started)
}

/// Confirms an enrollment with its code and creates the user.
#[utoipa::path(
    post,
    path = "/v1/enrollments/{id}/confirm",
    tag = "enrollment",
    params(("id" = String, Path, description = "enrollment_id")),
    request_body = CodeRequest,
    responses(
        (status = 201, body = Enrolled),
        (status = 400, body = ErrorBody, description = "invalid_code"),
        (status = 404, body = ErrorBody, description = "no such enrollment, or it expired"),
        (status = 409, body = ErrorBody, description = "already_enrolled"),
        (status = 429, body = ErrorBody, description = "rate_limited or too_many_attempts"),
        (status = 503, body = ErrorBody),
    )
)]
pub(super) async fn confirm(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(public_id): Path<String>,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<(StatusCode, Json<Enrolled>), ApiError> {
    limits::client(&state, ip.0).await?;
    let requests = requests(&state, Purpose::Enrollment);
    let (id, pending) = codes::redeem(&state, &requests, &public_id, &body.code, ip.0).await?;
    let user_id = uuid::Uuid::new_v4().to_string();
    if !users::create(state.db.as_ref(), &user_id, &pending.email).await? {
        requests.finish(&id).await?;
        return Err(ApiError::new(StatusCode::CONFLICT, "already_enrolled", "this address already has an account"));
    }
    // After the insert: a failed insert leaves the enrollment to be confirmed again.
    requests.finish(&id).await?;
    events::record(&state, Action::Enrolled, Some(&user_id), ip.0, json!({ "id": public_id })).await;
    Ok((StatusCode::CREATED, Json(Enrolled { user_id, email: pending.email })))
}
