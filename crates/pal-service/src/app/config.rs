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
        "pal serve: requests per email address and client address and minute on the routes that send or check codes \
         (0: no limit)",
    ),
    Var::new(
        "RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE",
        None,
        "pal serve: requests per email address and minute from all clients together on the routes that send or check \
         codes; above RATE_LIMIT_ACCOUNT_PER_MINUTE so one client cannot lock an account's owner out (default: 10 \
         times RATE_LIMIT_ACCOUNT_PER_MINUTE; 0: no limit)",
    ),
    Var::new(
        "RATE_LIMIT_IPV6_PREFIX",
        Some("64"),
        "pal serve: IPv6 clients are counted by network of this prefix length (one host usually holds a whole /64)",
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
        "HEADER_READ_TIMEOUT_MS",
        Some("10000"),
        "pal serve: time a client has to send a request's headers, from its connection or its first byte; then the \
         connection is closed",
    ),
    Var::new(
        "IDLE_TIMEOUT_MS",
        Some("30000"),
        "pal serve: time a kept-alive connection may wait for its next request before it is closed",
    ),
    Var::new(
        "MAX_CONNECTIONS",
        Some("4096"),
        "pal serve: open connections per listener (at most what the open-file limit allows); when full, the \
         longest-waiting idle connection is closed for a new one, or the new one gets 503 when none is idle",
    ),
    Var::new(
        "MAX_IN_FLIGHT",
        Some("512"),
        "pal serve: requests served at once; more are shed at once with 503 overloaded",
    ),
    Var::new("MAX_BODY_BYTES", Some("16384"), "pal serve: largest request body (then 413)"),
    Var::new(
        "SESSION_MAX_LIFETIME_S",
        Some("86400"),
        "pal serve: seconds a session lives at most from its sign-in, however often it is refreshed",
    ),
    Var::new(
        "CORS_ALLOWED_ORIGINS",
        None,
        "pal serve: comma-separated origins (https://app.example.com) whose browser pages may call the API; unset: none",
    ),
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
    /// `RATE_LIMIT_ACCOUNT_PER_MINUTE`: requests per email address and client
    /// address and minute on the same routes; 0 means no limit.
    pub account_per_minute: u32,
    /// `RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE`: requests per email address and
    /// minute from all clients together; 0 means no limit.
    pub account_ceiling_per_minute: u32,
    /// `RATE_LIMIT_IPV6_PREFIX`: IPv6 clients count by network of this many bits.
    pub ipv6_prefix: u8,
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
    /// `SESSION_MAX_LIFETIME_S`: how long a session lives at most, refreshed or not.
    pub session_max_lifetime: Duration,
    /// `CORS_ALLOWED_ORIGINS`: origins whose pages may call the API from a browser.
    pub cors_origins: Vec<String>,
    /// What bounds a connection before and between its requests.
    pub connections: ConnectionLimits,
}

/// What bounds a connection outside its requests: the requests themselves are
/// bounded by the request deadline and the limit of requests in flight.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `HEADER_READ_TIMEOUT_MS`: from the connection, or from the first byte of a
    /// later request, until its headers are complete.
    pub header_timeout: Duration,
    /// `IDLE_TIMEOUT_MS`: from a response until the next request's first byte.
    pub idle_timeout: Duration,
    /// `MAX_CONNECTIONS`: open connections per listener.
    pub max_connections: usize,
}

impl ServiceSettings {
    /// `bind` is the listener's addresses, which decides whether codes may be exposed.
    pub fn read(env: &mut Env, bind: &[IpAddr]) -> ServiceSettings {
        let expose_codes = env.bool("DEV_EXPOSE_CODES");
        let trust_forwarded_for = env.bool("TRUST_FORWARDED_FOR");
        if expose_codes && trust_forwarded_for {
            env.contradiction(
                "DEV_EXPOSE_CODES=true returns one-time codes in HTTP responses and TRUST_FORWARDED_FOR=true says \
                 clients come through a proxy, so codes would reach whoever the proxy forwards: unset one of the two"
                    .to_string(),
            );
        }
        if let Some(outside) = bind.iter().find(|ip| !ip.is_loopback()).filter(|_| expose_codes) {
            env.contradiction(format!(
                "DEV_EXPOSE_CODES=true returns one-time codes in HTTP responses, which is allowed only on a loopback \
                 listener, but BIND listens on {outside}: set BIND=127.0.0.1 or leave DEV_EXPOSE_CODES unset"
            ));
        }
        let account_per_minute: u32 = env.int("RATE_LIMIT_ACCOUNT_PER_MINUTE", 0, 1_000_000);
        // Follows the per-client limit unless set: turning that off turns both off.
        let account_ceiling_per_minute = match env.is_set("RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE") {
            true => env.int("RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE", 0, 10_000_000),
            false => account_per_minute.saturating_mul(10),
        };
        if account_ceiling_per_minute != 0 && account_ceiling_per_minute <= account_per_minute {
            env.contradiction(format!(
                "RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE={account_ceiling_per_minute} is not above \
                 RATE_LIMIT_ACCOUNT_PER_MINUTE={account_per_minute}, so one client could use up an account's \
                 ceiling and lock its owner out: raise the ceiling (or set it to 0 for none)"
            ));
        }
        let session_ttl = Duration::from_secs(env.int("SESSION_TTL_S", 1, MAX_TTL_S));
        let session_max_lifetime = Duration::from_secs(env.int("SESSION_MAX_LIFETIME_S", 1, MAX_TTL_S));
        if session_max_lifetime < session_ttl {
            env.contradiction(format!(
                "SESSION_MAX_LIFETIME_S={} is shorter than SESSION_TTL_S={}: a session could never live its TTL; \
                 raise SESSION_MAX_LIFETIME_S or lower SESSION_TTL_S",
                session_max_lifetime.as_secs(),
                session_ttl.as_secs()
            ));
        }
        ServiceSettings {
            session_ttl,
            code_ttl: Duration::from_secs(env.int("CODE_TTL_S", 1, 86_400)),
            ip_per_minute: env.int("RATE_LIMIT_IP_PER_MINUTE", 0, 1_000_000),
            account_per_minute,
            account_ceiling_per_minute,
            ipv6_prefix: env.int("RATE_LIMIT_IPV6_PREFIX", 1, 128),
            trust_forwarded_for,
            expose_codes,
            request_timeout: env.millis("REQUEST_TIMEOUT_MS"),
            max_in_flight: env.int("MAX_IN_FLIGHT", 1, 1_000_000),
            max_body_bytes: env.int("MAX_BODY_BYTES", 64, 64 * 1024 * 1024),
            session_max_lifetime,
            cors_origins: origins(env),
            connections: ConnectionLimits {
                header_timeout: env.millis("HEADER_READ_TIMEOUT_MS"),
                idle_timeout: env.millis("IDLE_TIMEOUT_MS"),
                max_connections: env.int("MAX_CONNECTIONS", 1, 1_000_000),
            },
        }
    }
}

/// `CORS_ALLOWED_ORIGINS`: each an origin as browsers send it (`scheme://host[:port]`,
/// no path), or `*` for any.
fn origins(env: &mut Env) -> Vec<String> {
    let Some(raw) = env.get("CORS_ALLOWED_ORIGINS").map(str::to_string) else { return Vec::new() };
    let mut origins = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let well_formed = origin == "*"
            || origin.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https")
                    && !rest.is_empty()
                    && !rest.contains(['/', '?', '#', '@'])
                    && rest.bytes().all(|b| b.is_ascii_graphic())
            });
        if !well_formed {
            env.invalid(
                "CORS_ALLOWED_ORIGINS",
                origin,
                "each origin is scheme://host[:port] as a browser sends it, without a path or a trailing slash \
                 (e.g. https://app.example.com), or * for any",
            );
        }
        origins.push(origin.to_string());
    }
    origins
}
