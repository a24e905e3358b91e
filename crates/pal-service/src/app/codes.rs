//! One-time codes: a pending request (an enrollment or a verification) lives in
//! the cache under its id until its code is used or it expires, so any instance
//! can finish what another started. Codes reach people through a [`CodeSender`].

use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use bytes::Bytes;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use pal::{CacheService, Error, ErrorKind};

use super::errors::ApiError;
use super::events::{self, Action};
use super::input::ttl;
use super::limits;
use crate::AppState;

/// Wrong codes a pending request survives; the next attempt ends it.
pub const MAX_ATTEMPTS: i64 = 5;

/// Digits of a code: a million possibilities against five attempts.
const DIGITS: u32 = 6;

/// What a one-time code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirming the email address of a new account.
    Enrollment,
    /// Signing in to an existing account.
    Verification,
}

impl Purpose {
    /// The purpose in lower case, as cache keys and request ids carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Enrollment => "enrollment",
            Purpose::Verification => "verification",
        }
    }
}

/// Delivers a code to the address it was asked for. A real deployment sends mail
/// or a text; the built-in [`LogSender`] writes it to the log.
#[async_trait]
pub trait CodeSender: Send + Sync + 'static {
    /// Delivers `code` for `purpose` to the address `to`; `request_id` names the
    /// pending request it belongs to.
    async fn send(&self, to: &str, code: &str, purpose: Purpose, request_id: &str) -> pal::Result<()>;
}

/// "Delivers" codes as log lines, naming the pending request and not the address.
pub struct LogSender;

#[async_trait]
impl CodeSender for LogSender {
    async fn send(&self, _to: &str, code: &str, purpose: Purpose, request_id: &str) -> pal::Result<()> {
        tracing::info!(purpose = purpose.as_str(), id = request_id, code, "one-time code");
        Ok(())
    }
}

/// Sends a code in a task of its own, apart from the answer: a sender that takes
/// its time (mail, retries) must not make the answer slower or different; its
/// failure is logged. With no address (a verification for an address without an
/// account) the task does nothing, but is started all the same.
pub(super) fn deliver(state: &AppState, to: Option<String>, code: String, purpose: Purpose, id: String) {
    let sender = state.sender.clone();
    tokio::spawn(async move {
        let Some(to) = to else { return };
        if let Err(e) = sender.send(&to, &code, purpose, &id).await {
            tracing::error!(id = id.as_str(), purpose = purpose.as_str(), error = %e, "the one-time code was not sent");
        }
    });
}

/// A request waiting for its code. The code itself is not kept: a digest bound to
/// the request's id is, so a value copied to another id does not match.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The address the code was sent to.
    pub email: String,
    /// The account a verification is for.
    pub user_id: Option<String>,
    digest: String,
    /// A verification for an address with no account: it looks the same from
    /// outside, and no code ever completes it.
    decoy: bool,
}

impl Pending {
    /// Whether `code` completes this request, compared in constant time (a decoy
    /// takes the same comparison).
    pub fn matches(&self, id: &str, code: &str) -> bool {
        let equal: bool = digest(id, code).as_bytes().ct_eq(self.digest.as_bytes()).into();
        equal && !self.decoy
    }
}

fn digest(id: &str, code: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(id.as_bytes());
    hasher.update([0]);
    hasher.update(code.as_bytes());
    pal::crypto::hex(&hasher.finalize())
}

/// A fresh code, uniform over every `DIGITS`-digit string, from a CSPRNG.
pub fn new_code() -> String {
    let n = rand::rng().random_range(0..10u32.pow(DIGITS));
    format!("{n:0width$}", width = DIGITS as usize)
}

/// Pending requests of one purpose in the cache.
pub struct Requests<'a> {
    /// Where the requests are kept.
    pub cache: &'a dyn CacheService,
    /// What the requests are for.
    pub purpose: Purpose,
    /// How long a request lives (`CODE_TTL_S`).
    pub ttl: Duration,
}

impl Requests<'_> {
    fn key(&self, id: &str) -> String {
        format!("{}:{id}", self.purpose.as_str())
    }

    fn attempts_key(&self, id: &str) -> String {
        format!("attempts:{}:{id}", self.purpose.as_str())
    }

    /// The internal id of a request, from the id its client holds: only ids this
    /// service could have made reach the cache.
    pub fn internal_id(&self, public: &str) -> Option<String> {
        let id = uuid::Uuid::parse_str(public).ok()?;
        Some(format!("{}-{}", self.purpose.as_str(), id.simple()))
    }

    /// Stores a new request and returns its public id and its code. A `decoy`
    /// stands for a verification of an address with no account.
    pub async fn start(
        &self,
        email: String,
        user_id: Option<String>,
        decoy: bool,
    ) -> Result<(String, String), ApiError> {
        let public = uuid::Uuid::new_v4();
        let id = format!("{}-{}", self.purpose.as_str(), public.simple());
        let code = new_code();
        let pending = Pending { email, user_id, digest: digest(&id, &code), decoy };
        let json = serde_json::to_vec(&pending).map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
        self.cache.set(&self.key(&id), Bytes::from(json), ttl(self.ttl)?).await?;
        Ok((public.to_string(), code))
    }

    /// The pending request of internal id `id`, or `None` when it expired or ended.
    /// Stored data that does not decode is a `Decode` error.
    pub async fn load(&self, id: &str) -> Result<Option<Pending>, ApiError> {
        let Some(bytes) = self.cache.get(&self.key(id)).await? else { return Ok(None) };
        let pending = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::Decode, format!("a pending {} does not decode: {e}", self.purpose.as_str()))
        })?;
        Ok(Some(pending))
    }

    /// Counts one attempt and returns how many there were, on every instance.
    pub async fn attempt(&self, id: &str) -> Result<i64, ApiError> {
        Ok(self.cache.incr(&self.attempts_key(id), 1, ttl(self.ttl)?).await?)
    }

    /// Ends the request. Returns whether it was still there: of two attempts racing
    /// with the right code, only the one that removed it goes on.
    pub async fn finish(&self, id: &str) -> Result<bool, ApiError> {
        let existed = self.cache.delete(&self.key(id)).await?;
        self.cache.delete(&self.attempts_key(id)).await?;
        Ok(existed)
    }
}

/// Checks a code for the pending request `public_id`, counting the attempt on
/// every instance and the account's rate limit; returns the request's internal
/// id and what it holds. A wrong code is `invalid_code`; the fifth wrong one, or
/// any attempt after it, closes the request with `too_many_attempts`; an unknown
/// or expired id is `not_found`. A decoy fails as a wrong code does.
pub async fn redeem(
    state: &AppState,
    requests: &Requests<'_>,
    public_id: &str,
    code: &str,
    ip: std::net::IpAddr,
) -> Result<(String, Pending), ApiError> {
    let gone = || ApiError::not_found("no such request, or it expired");
    let id = requests.internal_id(public_id).ok_or_else(gone)?;
    let pending = requests.load(&id).await?.ok_or_else(gone)?;
    limits::account(state, &pending.email, ip).await?;
    let attempts = requests.attempt(&id).await?;
    let right = attempts <= MAX_ATTEMPTS && pending.matches(&id, code);
    if right {
        return Ok((id, pending));
    }
    let failed = match requests.purpose {
        Purpose::Enrollment => Action::EnrollmentFailed,
        Purpose::Verification => Action::VerificationFailed,
    };
    let closed = attempts >= MAX_ATTEMPTS;
    let reason = if closed { "too_many_attempts" } else { "wrong_code" };
    events::record(
        state,
        failed,
        pending.user_id.as_deref(),
        ip,
        serde_json::json!({ "id": public_id, "reason": reason }),
    )
    .await;
    if closed {
        requests.finish(&id).await?;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many wrong codes: this request is closed; start again",
        ));
    }
    Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_code", "the code is wrong"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_six_digits() {
        for _ in 0..1000 {
            let code = new_code();
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn a_code_matches_only_its_own_request_and_never_a_decoy() {
        let id = "verification-1";
        let pending = |decoy| Pending { email: "a@b.io".into(), user_id: None, digest: digest(id, "123456"), decoy };
        assert!(pending(false).matches(id, "123456"));
        assert!(!pending(false).matches(id, "123457"));
        assert!(!pending(false).matches("verification-2", "123456"));
        assert!(!pending(true).matches(id, "123456"));
    }
}
