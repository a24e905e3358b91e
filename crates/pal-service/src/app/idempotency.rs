//! `Idempotency-Key` on `POST /v1/enrollments`: a client that retries a request
//! whose answer it lost gets the first answer again, and no second code is sent.
//!
//! The first request with a key claims it with the cache's `add` (atomic on
//! every provider: of concurrent requests with one key, one claims it), does the
//! work and stores its answer under the claim for the code's lifetime; a repeat
//! gets that answer, or 409 `idempotency_in_progress` while the first is still
//! working. The claim is scoped to the address asked for, so a key reused for
//! another address is another request.

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use pal::{CacheService, Ttl};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::errors::ApiError;

/// The request header.
pub(super) const HEADER: &str = "idempotency-key";
const MAX_KEY: usize = 128;
/// What a claim holds until its answer is stored.
const IN_PROGRESS: &[u8] = b"in-progress";

/// What the cache says about a request's key.
pub(super) enum Claim<T> {
    /// No key given: an ordinary request.
    None,
    /// The first request with this key: store its answer with [`complete`].
    New(String),
    /// A repeat: the first request's answer.
    Replay(T),
}

fn invalid(message: &'static str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_idempotency_key", message)
}

/// Claims the request's key for `scope` (the route and what the request is
/// about), or finds the answer of the request that claimed it.
pub(super) async fn claim<T: DeserializeOwned>(
    cache: &dyn CacheService,
    headers: &HeaderMap,
    route: &str,
    scope: &str,
    ttl: Ttl,
) -> Result<Claim<T>, ApiError> {
    let Some(key) = headers.get(HEADER) else { return Ok(Claim::None) };
    let key = key.to_str().map_err(|_| invalid("Idempotency-Key must be visible ASCII"))?;
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("Idempotency-Key has 1 to 128 visible ASCII characters, such as a UUID"));
    }
    let digest = Sha256::new().chain_update(key).chain_update([0]).chain_update(scope).finalize();
    let cache_key = format!("idempotency:{route}:{}", pal::crypto::hex(&digest));
    if cache.add(&cache_key, Bytes::from_static(IN_PROGRESS), ttl).await? {
        return Ok(Claim::New(cache_key));
    }
    match cache.get(&cache_key).await? {
        Some(answer) if answer != IN_PROGRESS => serde_json::from_slice(&answer)
            .map(Claim::Replay)
            .map_err(|e| ApiError::from(pal::Error::new(pal::ErrorKind::Decode, format!("stored answer: {e}")))),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .retry_after(1)),
    }
}

/// Stores the answer of the request that claimed `cache_key`.
pub(super) async fn complete<T: Serialize>(cache: &dyn CacheService, cache_key: &str, answer: &T, ttl: Ttl) {
    let stored = match serde_json::to_vec(answer) {
        Ok(json) => cache.set(cache_key, json.into(), ttl).await,
        Err(e) => Err(pal::Error::usage(format!("answer: {e}"))),
    };
    if let Err(e) = stored {
        // The claim stays "in progress" until it expires: a repeat is told to wait
        // rather than given a second code.
        tracing::warn!(error = %e, "idempotency: the answer was not stored");
    }
}

/// Gives up the claim of a request that failed, so its retry is a new request.
pub(super) async fn abandon(cache: &dyn CacheService, cache_key: &str) {
    if let Err(e) = cache.delete_if(cache_key, IN_PROGRESS).await {
        tracing::warn!(error = %e, "idempotency: a failed request's claim stays until it expires");
    }
}
