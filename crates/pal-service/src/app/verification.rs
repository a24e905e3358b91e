//! Verification (sign-in): a code goes to an enrolled address, and the right code
//! opens a session. The answer to the first step is the same whether or not the
//! address has an account, so it cannot be used to find out which ones do.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::codes::{self, Purpose};
use super::enrollment::{CodeRequest, EmailRequest, requests};
use super::errors::{ApiError, ApiJson, ErrorBody};
use super::events::{self, Action};
use super::limits::{self, ClientIp};
use super::{session, users};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct VerificationStarted {
    pub verification_id: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// The code, only with `DEV_EXPOSE_CODES=true` (also for an address with no
    /// account, whose code never works, so the answer has the same shape).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Token {
    /// The bearer token: `Authorization: Bearer <token>`.
    pub token: String,
    /// Seconds the session lives unless refreshed.
    pub expires_in: u64,
}

/// Sends a sign-in code to the address when it has an account. Either way the
/// answer is a verification id, after the same work on the cache.
#[utoipa::path(
    post,
    path = "/v1/verifications",
    tag = "verification",
    request_body = EmailRequest,
    responses(
        (status = 202, body = VerificationStarted),
        (status = 400, body = ErrorBody, description = "invalid_email, invalid_json"),
        (status = 429, body = ErrorBody, description = "rate_limited, with Retry-After"),
        (status = 503, body = ErrorBody),
    )
)]
pub(super) async fn start(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<VerificationStarted>), ApiError> {
    let email = limits::address(&state, ip.0, &body.email).await?;
    let user_id = users::id_of(state.db.as_ref(), &email).await?;
    let known = user_id.is_some();
    let (id, code) = requests(&state, Purpose::Verification).start(email.clone(), user_id.clone(), !known).await?;
    // The same audit call either way, awaited in the request: with the spooled
    // audit log it is the slowest step, and awaiting it only for an address with
    // an account would tell which addresses have one.
    let action = if known { Action::CodeSent } else { Action::NoAccount };
    let details = json!({ "purpose": "verification", "id": id });
    events::record(&state, action, user_id.as_deref(), ip.0, details).await;
    // Delivered apart from the answer, so a sender that takes its time (mail,
    // SMS) cannot make an address with an account slower to answer; and a task
    // either way, since starting one (waking a worker thread) takes time too.
    codes::deliver(&state, known.then_some(email), code.clone(), Purpose::Verification, id.clone());
    let started = VerificationStarted {
        verification_id: id,
        expires_in: state.service.code_ttl.as_secs(),
        code: state.service.expose_codes.then_some(code),
    };
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// Completes a verification with its code: a new session. At most five attempts:
/// the fifth wrong one closes the verification.
#[utoipa::path(
    post,
    path = "/v1/verifications/{id}/complete",
    tag = "verification",
    params(("id" = String, Path, description = "verification_id")),
    request_body = CodeRequest,
    responses(
        (status = 200, body = Token),
        (status = 400, body = ErrorBody, description = "invalid_code: the code is wrong (also for an address with no account)"),
        (status = 404, body = ErrorBody, description = "no such verification, or it expired or was closed"),
        (status = 429, body = ErrorBody, description = "rate_limited or too_many_attempts"),
        (status = 503, body = ErrorBody),
    )
)]
pub(super) async fn complete(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(public_id): Path<String>,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Json<Token>, ApiError> {
    limits::client(&state, ip.0).await?;
    let requests = requests(&state, Purpose::Verification);
    let (id, pending) = codes::redeem(&state, &requests, &public_id, &body.code, ip.0).await?;
    // `redeem` accepts no decoy, so a redeemed verification has its account.
    let user_id = pending.user_id.as_deref().ok_or_else(|| ApiError::not_found("no such request, or it expired"))?;
    // One-time: of two requests racing with the right code, one gets the session.
    if !requests.finish(&id).await? {
        return Err(ApiError::not_found("no such request, or it expired"));
    }
    let token = session::issue(&state, user_id, &pending.email).await?;
    events::record(&state, Action::VerificationSucceeded, Some(user_id), ip.0, json!({ "id": public_id })).await;
    Ok(Json(Token { token, expires_in: state.service.session_ttl.as_secs() }))
}
