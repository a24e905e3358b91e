//! Sessions, in the cache only, so every instance serves every session. A token
//! is 256 random bits the client holds; the cache knows it only by its SHA-256,
//! so reading the cache never yields a usable token.
//!
//! "Log out everywhere" replaces the user's session epoch, a random value in the
//! cache: a session carries the epoch it was made in and is void once the two
//! differ. The epoch is kept alive as long as the longest session that refers to
//! it, so a user with a live session always has one; when it is missing no live
//! session can refer to it, and the next sign-in starts a fresh one. Fresh epochs
//! are random, never an old one again, so no race can bring a void session back.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use pal::CacheServiceExt;
use pal::namespace::session_key;

use super::errors::{ApiError, ErrorBody};
use super::events::{self, Action};
use super::input::ttl;
use super::limits::ClientIp;
use crate::AppState;

/// How much longer than a session an epoch is kept, so it outlives every session
/// that refers to it.
const EPOCH_MARGIN: Duration = Duration::from_secs(60);
/// 256 bits, base64url without padding.
const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;

/// What the cache holds for a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSession {
    pub user_id: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    epoch: String,
}

fn token_id(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

fn epoch_key(user_id: &str) -> String {
    format!("session_epoch:{user_id}")
}

async fn current_epoch(state: &AppState, user_id: &str) -> Result<Option<String>, ApiError> {
    let stored = state.cache.get(&epoch_key(user_id)).await?;
    Ok(stored.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

fn epoch_ttl(state: &AppState) -> Result<pal::Ttl, ApiError> {
    ttl(state.service.session_ttl + EPOCH_MARGIN)
}

/// Starts a fresh epoch for the user: every session made before is void.
async fn new_epoch(state: &AppState, user_id: &str) -> Result<String, ApiError> {
    let epoch = uuid::Uuid::new_v4().simple().to_string();
    state.cache.set(&epoch_key(user_id), epoch.clone().into_bytes().into(), epoch_ttl(state)?).await?;
    Ok(epoch)
}

/// The epoch a new session joins, kept alive at least as long as that session.
async fn joined_epoch(state: &AppState, user_id: &str) -> Result<String, ApiError> {
    if let Some(epoch) = current_epoch(state, user_id).await?
        && state.cache.touch(&epoch_key(user_id), epoch_ttl(state)?).await?
    {
        return Ok(epoch);
    }
    new_epoch(state, user_id).await
}

fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How long a session made at `created_at` may live from now: `SESSION_TTL_S`,
/// cut to what is left of `SESSION_MAX_LIFETIME_S`; `None` once that is over.
fn lifetime_left(state: &AppState, created_at: DateTime<Utc>) -> Option<Duration> {
    let age = (Utc::now() - created_at).to_std().unwrap_or_default();
    let left = state.service.session_max_lifetime.checked_sub(age)?;
    (!left.is_zero()).then(|| left.min(state.service.session_ttl))
}

/// A new session for the user: its token, which is never stored.
pub(super) async fn issue(state: &AppState, user_id: &str, email: &str) -> Result<String, ApiError> {
    let token = new_token();
    let epoch = joined_epoch(state, user_id).await?;
    let session =
        StoredSession { user_id: user_id.to_string(), email: email.to_string(), created_at: Utc::now(), epoch };
    state.cache.set_session(&token_id(&token), &session, ttl(state.service.session_ttl)?).await?;
    Ok(token)
}

/// A request with a live session: `Authorization: Bearer <token>`.
pub struct Authenticated {
    pub session: StoredSession,
    id: String,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| {
                t.len() == TOKEN_CHARS && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .ok_or_else(ApiError::unauthorized)?;
        let id = token_id(token);
        let session: StoredSession = state.cache.get_session(&id).await?.ok_or_else(ApiError::unauthorized)?;
        if lifetime_left(state, session.created_at).is_none() {
            // Past its absolute lifetime: no refresh could have kept it.
            state.cache.delete_session(&id).await?;
            return Err(ApiError::unauthorized());
        }
        if current_epoch(state, &session.user_id).await?.as_deref() != Some(session.epoch.as_str()) {
            // Void since a logout everywhere; removing it spares the next check.
            state.cache.delete_session(&id).await?;
            return Err(ApiError::unauthorized());
        }
        Ok(Authenticated { session, id })
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct SessionInfo {
    pub user_id: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    /// Seconds left before the session expires, unless refreshed.
    pub expires_in: u64,
}

/// A refreshed session: a new token, since the old one no longer opens it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct Refreshed {
    /// The session's new bearer token; the one the refresh was made with is void.
    pub token: String,
    /// Seconds the session lives unless refreshed again: `SESSION_TTL_S`, or what
    /// is left of `SESSION_MAX_LIFETIME_S` since the sign-in.
    pub expires_in: u64,
}

/// The session the bearer token opens.
#[utoipa::path(
    get,
    path = "/v1/session",
    tag = "session",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SessionInfo),
        (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub(super) async fn show(State(state): State<AppState>, auth: Authenticated) -> Result<Json<SessionInfo>, ApiError> {
    let left = state.cache.ttl(&session_key(&auth.id)?).await?.ok_or_else(ApiError::unauthorized)?;
    let Authenticated { session, .. } = auth;
    Ok(Json(SessionInfo {
        user_id: session.user_id,
        email: session.email,
        created_at: session.created_at,
        expires_in: left.as_secs(),
    }))
}

/// Sliding expiry under a ceiling: the session lives `SESSION_TTL_S` from now, but
/// never past `SESSION_MAX_LIFETIME_S` from its sign-in. The token is replaced:
/// a token copied from a client stops working at its owner's next refresh.
#[utoipa::path(
    post,
    path = "/v1/session/refresh",
    tag = "session",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Refreshed),
        (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub(super) async fn refresh(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Refreshed>, ApiError> {
    let lifetime = lifetime_left(&state, auth.session.created_at).ok_or_else(ApiError::unauthorized)?;
    let token = new_token();
    let id = token_id(&token);
    state.cache.set_session(&id, &auth.session, ttl(lifetime)?).await?;
    // Of two refreshes racing with one token, the one that removes it wins; the
    // other's new session goes too, so one token never becomes two.
    if !state.cache.delete_session(&auth.id).await? {
        state.cache.delete_session(&id).await?;
        return Err(ApiError::unauthorized());
    }
    // The epoch outlives the session it was just checked against, so it is there.
    state.cache.touch(&epoch_key(&auth.session.user_id), epoch_ttl(&state)?).await?;
    Ok(Json(Refreshed { token, expires_in: lifetime.as_secs() }))
}

/// Ends this session.
#[utoipa::path(
    delete,
    path = "/v1/session",
    tag = "session",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody))
)]
pub(super) async fn logout(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    state.cache.delete_session(&auth.id).await?;
    events::record(&state, Action::Logout, Some(&auth.session.user_id), ip.0, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the user, on every instance, from their next request on.
#[utoipa::path(
    delete,
    path = "/v1/sessions",
    tag = "session",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody))
)]
pub(super) async fn logout_everywhere(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    let user_id = &auth.session.user_id;
    new_epoch(&state, user_id).await?;
    state.cache.delete_session(&auth.id).await?;
    events::record(&state, Action::LogoutEverywhere, Some(user_id), ip.0, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_id_reveals_nothing_of_the_token_and_is_stable() {
        let token = URL_SAFE_NO_PAD.encode([7u8; TOKEN_BYTES]);
        assert_eq!(token.len(), TOKEN_CHARS);
        assert_eq!(token_id(&token), token_id(&token));
        assert!(!token_id(&token).contains(&token));
        assert_ne!(token_id(&token), token_id(&URL_SAFE_NO_PAD.encode([8u8; TOKEN_BYTES])));
    }
}
