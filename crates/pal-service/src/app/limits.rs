//! Limits: fixed-window rate limits per client address and per account, whose
//! counters live in the cache so every instance enforces the same ones; and the
//! answers of the tower layers that bound each request (deadline, requests in
//! flight).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::BoxError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use super::errors::ApiError;
use super::events::{self, Action};
use super::input::ttl;
use crate::AppState;

/// The window of every rate limit: the variables count per minute.
const WINDOW: Duration = Duration::from_secs(60);

/// The address a request comes from: the TCP peer, or with `TRUST_FORWARDED_FOR`
/// the last `X-Forwarded-For` entry (the one the proxy in front appended; earlier
/// ones are whatever the client sent).
#[derive(Debug, Clone, Copy)]
pub(super) struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        if state.service.trust_forwarded_for
            && let Some(ip) = last_forwarded(&parts.headers)
        {
            return Ok(ClientIp(ip));
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        // Only a router driven without a listener (a unit test) has no peer.
        Ok(ClientIp(peer.unwrap_or(IpAddr::from([0, 0, 0, 0]))))
    }
}

fn last_forwarded(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
    last.rsplit(',').next()?.trim().parse().ok()
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Scope {
    Ip,
    Account,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Account => "account",
        }
    }
}

/// Counts one request of `subject` and refuses it past the limit, with
/// `Retry-After` set to what is left of the window. The first refusal of a window
/// is audited; the rest are not, so a flood cannot flood the audit log.
pub(super) async fn check(state: &AppState, scope: Scope, subject: &str, ip: IpAddr) -> Result<(), ApiError> {
    let limit = i64::from(match scope {
        Scope::Ip => state.service.ip_per_minute,
        Scope::Account => state.service.account_per_minute,
    });
    if limit == 0 {
        return Ok(());
    }
    let key = format!("ratelimit:{}:{subject}", scope.as_str());
    let count = state.cache.incr(&key, 1, ttl(WINDOW)?).await?;
    if count <= limit {
        return Ok(());
    }
    let left = state.cache.ttl(&key).await?.unwrap_or(Duration::from_secs(1));
    let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    if count == limit + 1 {
        events::record(state, Action::RateLimited, None, ip, json!({ "scope": scope.as_str() })).await;
    }
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; try again in {seconds} s"),
    )
    .retry_after(seconds))
}

/// What every route that sends a code checks first: the client's limit, then
/// the address (normalized, as the account limit counts it) and its limit.
pub(super) async fn address(state: &AppState, ip: IpAddr, raw: &str) -> Result<String, ApiError> {
    check(state, Scope::Ip, &ip.to_string(), ip).await?;
    let email = super::input::email(raw)?;
    check(state, Scope::Account, &email, ip).await?;
    Ok(email)
}

/// The answer when a tower layer stops a request: shed because too many are in
/// flight, or past its deadline.
pub(super) async fn stopped(error: BoxError) -> ApiError {
    if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::overloaded()
    } else if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::timeout()
    } else {
        tracing::error!(error = %error, "request failed in a layer");
        ApiError::for_status(StatusCode::SERVICE_UNAVAILABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_forwarded_entry_is_the_proxys() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().unwrap());
        assert_eq!(last_forwarded(&headers), Some(IpAddr::from([198, 51, 100, 7])));
        headers.append("x-forwarded-for", "2001:db8::1".parse().unwrap());
        assert_eq!(last_forwarded(&headers), "2001:db8::1".parse().ok());
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(last_forwarded(&headers), None);
    }
}
