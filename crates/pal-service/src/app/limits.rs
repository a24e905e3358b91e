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

/// What a rate limit counts by.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope {
    /// The client's address.
    Ip,
    /// An email address asked for by one client: what a client can use up stays
    /// its own, so an attacker cannot lock an account's owner out.
    AccountClient,
    /// An email address, from every client together: bounds what many clients
    /// can do to one account (mail sent, codes guessed).
    Account,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::AccountClient => "account_client",
            Scope::Account => "account",
        }
    }
}

/// The client as rate limits count it: an IPv4 address (an IPv4-mapped IPv6
/// address is its IPv4 one), or the IPv6 network of `v6_prefix` bits, since one
/// host usually holds a whole /64 and could otherwise count as billions.
pub(super) fn client_key(ip: IpAddr, v6_prefix: u8) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let bits = u32::from(v6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            format!("{}/{bits}", std::net::Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// Counts one request of `subject` and refuses it past the limit, with
/// `Retry-After` set to what is left of the window. The first refusal of a window
/// is audited; the rest are not, so a flood cannot flood the audit log.
pub(super) async fn check(state: &AppState, scope: Scope, subject: &str, ip: IpAddr) -> Result<(), ApiError> {
    let limit = i64::from(match scope {
        Scope::Ip => state.service.ip_per_minute,
        Scope::AccountClient => state.service.account_per_minute,
        Scope::Account => state.service.account_ceiling_per_minute,
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

/// The client's own limit.
pub(super) async fn client(state: &AppState, ip: IpAddr) -> Result<(), ApiError> {
    check(state, Scope::Ip, &client_key(ip, state.service.ipv6_prefix), ip).await
}

/// The limits of one account asked for by one client: the pair's, then the
/// account's ceiling. A client at its own limit is refused before it counts
/// towards the ceiling, and the ceiling is above the pair's limit, so no single
/// client can use up what the account's owner needs.
pub(super) async fn account(state: &AppState, email: &str, ip: IpAddr) -> Result<(), ApiError> {
    let client = client_key(ip, state.service.ipv6_prefix);
    check(state, Scope::AccountClient, &format!("{email}|{client}"), ip).await?;
    check(state, Scope::Account, email, ip).await
}

/// What every route that sends a code checks first: the client's limit, then
/// the address (normalized, as the account limits count it) and its limits.
pub(super) async fn address(state: &AppState, ip: IpAddr, raw: &str) -> Result<String, ApiError> {
    client(state, ip).await?;
    let email = super::input::email(raw)?;
    account(state, &email, ip).await?;
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
    fn clients_count_by_ipv4_address_and_by_ipv6_network() {
        let key = |ip: &str, prefix| client_key(ip.parse().unwrap(), prefix);
        assert_eq!(key("203.0.113.9", 64), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9", 64), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::9", 64), key("2001:db8:1:2::1", 64));
        assert_ne!(key("2001:db8:1:3::1", 64), key("2001:db8:1:2::1", 64));
        assert_eq!(key("2001:db8:1:2::1", 48), "2001:db8:1::/48");
        assert_eq!(key("2001:db8::1", 128), "2001:db8::1/128");
    }

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
