//! The reference service's variables, read through the one environment reader
//! with the rest of the tool's.

use std::net::IpAddr;
use std::time::Duration;

use pal::env::{Env, Var};

/// The service's own variables, read besides pal's.
pub const VARS: &[Var] = &[
    Var::new("SESSION_TTL_S", Some("3600"), "pal serve: seconds a session lives without a refresh (sliding expiry)"),
    Var::new("CODE_TTL_S", Some("600"), "pal serve: seconds a one-time code (enrollment, verification) stays valid"),
    Var::new(
        "RATE_LIMIT_IP_PER_MINUTE",
        Some("60"),
        "pal serve: requests per client address and minute on the routes that send or check codes (0: no limit)",
    ),
    Var::new(
        "RATE_LIMIT_ACCOUNT_PER_MINUTE",
        Some("10"),
        "pal serve: requests per email address and minute on the routes that send or check codes (0: no limit)",
    ),
    Var::new(
        "TRUST_FORWARDED_FOR",
        Some("false"),
        "pal serve: take the client address from the last X-Forwarded-For entry (only behind a proxy that sets it)",
    ),
    Var::new(
        "DEV_EXPOSE_CODES",
        Some("false"),
        "pal serve: also return one-time codes in responses, for tests and demos; refused unless BIND is loopback",
    ),
    Var::new("REQUEST_TIMEOUT_MS", Some("5000"), "pal serve: deadline of every request (then 503 timeout)"),
    Var::new(
        "MAX_IN_FLIGHT",
        Some("512"),
        "pal serve: requests served at once; more are shed at once with 503 overloaded",
    ),
    Var::new("MAX_BODY_BYTES", Some("16384"), "pal serve: largest request body (then 413)"),
];

/// The longest TTL a cache accepts (`pal::Ttl`): 365 days.
const MAX_TTL_S: u64 = 365 * 24 * 3600;

/// What the reference service reads beside the listener's address.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// `SESSION_TTL_S`: how long a session lives without a refresh.
    pub session_ttl: Duration,
    /// `CODE_TTL_S`: how long a one-time code stays valid, at most a day.
    pub code_ttl: Duration,
    /// `RATE_LIMIT_IP_PER_MINUTE`: requests per client address and minute on the
    /// routes that send or check codes; 0 means no limit.
    pub ip_per_minute: u32,
    /// `RATE_LIMIT_ACCOUNT_PER_MINUTE`: requests per email address and minute on the
    /// same routes; 0 means no limit.
    pub account_per_minute: u32,
    /// `TRUST_FORWARDED_FOR`: take the client address from the last `X-Forwarded-For` entry.
    pub trust_forwarded_for: bool,
    /// `DEV_EXPOSE_CODES`: also return one-time codes in responses; only on a loopback listener.
    pub expose_codes: bool,
    /// `REQUEST_TIMEOUT_MS`: the deadline of every request, after which it fails with 503.
    pub request_timeout: Duration,
    /// `MAX_IN_FLIGHT`: requests served at once; more are shed with 503.
    pub max_in_flight: usize,
    /// `MAX_BODY_BYTES`: the largest request body; a larger one fails with 413.
    pub max_body_bytes: usize,
}

impl ServiceSettings {
    /// `bind` is the listener's addresses, which decides whether codes may be exposed.
    pub fn read(env: &mut Env, bind: &[IpAddr]) -> ServiceSettings {
        let expose_codes = env.bool("DEV_EXPOSE_CODES");
        if let Some(outside) = bind.iter().find(|ip| !ip.is_loopback()).filter(|_| expose_codes) {
            env.contradiction(format!(
                "DEV_EXPOSE_CODES=true returns one-time codes in HTTP responses, which is allowed only on a loopback \
                 listener, but BIND listens on {outside}: set BIND=127.0.0.1 or leave DEV_EXPOSE_CODES unset"
            ));
        }
        ServiceSettings {
            session_ttl: Duration::from_secs(env.int("SESSION_TTL_S", 1, MAX_TTL_S)),
            code_ttl: Duration::from_secs(env.int("CODE_TTL_S", 1, 86_400)),
            ip_per_minute: env.int("RATE_LIMIT_IP_PER_MINUTE", 0, 1_000_000),
            account_per_minute: env.int("RATE_LIMIT_ACCOUNT_PER_MINUTE", 0, 1_000_000),
            trust_forwarded_for: env.bool("TRUST_FORWARDED_FOR"),
            expose_codes,
            request_timeout: env.millis("REQUEST_TIMEOUT_MS"),
            max_in_flight: env.int("MAX_IN_FLIGHT", 1, 1_000_000),
            max_body_bytes: env.int("MAX_BODY_BYTES", 64, 64 * 1024 * 1024),
        }
    }
}
