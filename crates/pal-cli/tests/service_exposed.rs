//! The reference service as a stranger on the network meets it, each through
//! HTTP on a real `pal serve`: rate limits that an attacker cannot turn against
//! an account's owner, clients counted by IPv4 address and IPv6 network, nothing
//! of a provider's error text in public answers, tokens never cacheable, rotated
//! on refresh and bounded in lifetime, CORS, and addresses checked by the HTML
//! rule.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;

use support::http::{self, Api, Response};
use support::serve::Serve;
use support::service::{enroll, sign_in, unique_email};

const EMBEDDED: [(&str, &str); 4] = [
    ("CACHE_PROVIDER", "memory"),
    ("DB_PROVIDER", "sqlite"),
    ("DATABASE_URL", "sqlite::memory:"),
    ("DB_AUTO_MIGRATE", "true"),
];

fn serve(more: &[(&str, &str)]) -> Serve {
    let vars: Vec<(&str, &str)> = EMBEDDED.iter().chain(more).copied().collect();
    Serve::start(&vars)
}

/// `POST /v1/verifications` for `email` from the client `from` (the proxy's
/// X-Forwarded-For entry).
fn verify_from(port: u16, email: &str, from: &str) -> Response {
    let body = serde_json::to_vec(&json!({ "email": email })).unwrap();
    let headers = [("Content-Type", "application/json"), ("X-Forwarded-For", from)];
    http::raw(port, "POST", "/v1/verifications", &headers, &body, Duration::from_secs(10)).unwrap()
}

/// The lockout: twelve verifications for the victim from one client used
/// up the account's limit, and the owner from another address got 429. Now the
/// attacker meets its own limit and the owner is served; only many clients
/// together reach the account's ceiling.
#[test]
fn one_client_cannot_lock_an_account_owner_out() {
    let serve = serve(&[
        ("TRUST_FORWARDED_FOR", "true"),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
        ("RATE_LIMIT_ACCOUNT_PER_MINUTE", "10"),
        ("RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE", "25"),
    ]);
    let victim = unique_email();
    let attacker: Vec<u16> = (0..12).map(|_| verify_from(serve.port, &victim, "198.51.100.66").status).collect();
    assert_eq!(attacker, [&[202; 10][..], &[429; 2]].concat(), "the attacker's own limit");
    assert_eq!(verify_from(serve.port, &victim, "203.0.113.7").status, 202, "the owner from elsewhere");
    // Three clients together reach the ceiling of 25: then the account rests.
    let second: Vec<u16> = (0..10).map(|_| verify_from(serve.port, &victim, "198.51.100.67").status).collect();
    assert!(second.iter().all(|s| *s == 202), "{second:?}");
    let third: Vec<u16> = (0..10).map(|_| verify_from(serve.port, &victim, "198.51.100.68").status).collect();
    assert_eq!(third.iter().filter(|s| **s == 202).count(), 25 - 10 - 1 - 10, "{third:?}");
    let refused = verify_from(serve.port, &victim, "198.51.100.68");
    assert_eq!((refused.status, refused.error()), (429, "rate_limited".to_string()));
    assert!(refused.header("retry-after").is_some());
    // Another account is untouched.
    assert_eq!(verify_from(serve.port, &unique_email(), "198.51.100.66").status, 202);
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn a_ceiling_that_one_client_could_reach_is_refused_at_start_up() {
    let limits = [("RATE_LIMIT_ACCOUNT_PER_MINUTE", "20"), ("RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE", "20")];
    let stderr = Serve::refused(&[EMBEDDED.as_slice(), &limits].concat());
    assert!(stderr.contains("RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE"), "{stderr}");
}

/// Seventy addresses of one /64 are one client; an IPv4-mapped address is its
/// IPv4 address; another /64 is another client.
#[test]
fn clients_count_by_ipv6_network_and_ipv4_mapped_as_ipv4() {
    let serve = serve(&[
        ("TRUST_FORWARDED_FOR", "true"),
        ("RATE_LIMIT_IP_PER_MINUTE", "60"),
        ("RATE_LIMIT_ACCOUNT_PER_MINUTE", "0"),
        ("RATE_LIMIT_ACCOUNT_CEILING_PER_MINUTE", "0"),
    ]);
    let statuses: Vec<u16> =
        (1..=70).map(|n| verify_from(serve.port, &unique_email(), &format!("2001:db8:1:2::{n:x}")).status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 60, "{statuses:?}");
    assert!(statuses[60..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(verify_from(serve.port, &unique_email(), "2001:db8:1:3::1").status, 202, "another /64");

    let mixed: Vec<u16> = (0..61)
        .map(|n| {
            let from = if n % 2 == 0 { "203.0.113.9" } else { "::ffff:203.0.113.9" };
            verify_from(serve.port, &unique_email(), from).status
        })
        .collect();
    assert_eq!(mixed[..60], [202; 60], "{mixed:?}");
    assert_eq!(mixed[60], 429, "the two spellings share one count");
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn exposed_codes_behind_a_trusted_proxy_are_refused_at_start_up() {
    let both = [("DEV_EXPOSE_CODES", "true"), ("TRUST_FORWARDED_FOR", "true")];
    let stderr = Serve::refused(&[EMBEDDED.as_slice(), &both].concat());
    assert!(stderr.contains("DEV_EXPOSE_CODES") && stderr.contains("TRUST_FORWARDED_FOR"), "{stderr}");
}

/// Addresses a browser's `<input type=email>` refuses are refused here too.
#[test]
fn addresses_follow_the_html_rule() {
    let serve = serve(&[]);
    let api = Api { port: serve.port };
    for bad in ["a@-x.io", "<script>alert(1)</script>@x.io", "a@x_y.io", "\"a b\"@x.io", "a@x", "a@[127.0.0.1]"] {
        let answer = api.post("/v1/verifications", None, json!({ "email": bad }));
        assert_eq!((answer.status, answer.error()), (400, "invalid_email".to_string()), "{bad}");
    }
    for good in ["o'brien+tag@mail-1.example.co.uk", "A.B@X.IO"] {
        assert_eq!(api.post("/v1/verifications", None, json!({ "email": good })).status, 202, "{good}");
    }
}

/// Every answer that carries a token or session data says not to store it.
#[test]
fn tokens_and_sessions_are_never_cacheable_and_refresh_rotates_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let serve = support::service::start(&EMBEDDED, dir.path(), "");
    let api = Api { port: serve.port };
    let email = unique_email();
    enroll(api, &email);
    let (id, code) = support::service::start_verification(api, &email);
    let done = api.post(&format!("/v1/verifications/{id}/complete"), None, json!({ "code": code }));
    let token = done.json()["token"].as_str().unwrap().to_string();
    let session = api.get("/v1/session", Some(&token));
    let refreshed = api.post("/v1/session/refresh", Some(&token), json!({}));
    for answer in [&done, &session, &refreshed] {
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert_eq!(answer.header("pragma"), Some("no-cache"));
    }
    let rotated = refreshed.json()["token"].as_str().unwrap().to_string();
    assert_ne!(rotated, token);
    assert_eq!(api.get("/v1/session", Some(&token)).status, 401, "the old token is void");
    assert_eq!(api.post("/v1/session/refresh", Some(&token), json!({})).status, 401);
    assert_eq!(api.get("/v1/session", Some(&rotated)).status, 200);
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
}

/// Refreshing keeps a session alive only until `SESSION_MAX_LIFETIME_S` from its
/// sign-in.
#[test]
fn refresh_never_extends_a_session_past_its_absolute_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let vars: Vec<(&str, &str)> =
        EMBEDDED.iter().copied().chain([("SESSION_TTL_S", "2"), ("SESSION_MAX_LIFETIME_S", "3")]).collect();
    let serve = support::service::start(&vars, dir.path(), "");
    let api = Api { port: serve.port };
    let email = unique_email();
    enroll(api, &email);
    let signed_in = Instant::now();
    let mut token = sign_in(api, &email);
    let mut lifetimes = Vec::new();
    while signed_in.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(700));
        let refreshed = api.post("/v1/session/refresh", Some(&token), json!({}));
        assert_eq!(refreshed.status, 200, "{}", refreshed.text());
        lifetimes.push(refreshed.json()["expires_in"].as_u64().unwrap());
        token = refreshed.json()["token"].as_str().unwrap().to_string();
    }
    assert!(lifetimes.last().is_some_and(|l| *l <= 1), "the last refresh got what was left: {lifetimes:?}");
    std::thread::sleep(Duration::from_secs(3).saturating_sub(signed_in.elapsed()) + Duration::from_millis(300));
    assert_eq!(api.get("/v1/session", Some(&token)).status, 401, "alive past its lifetime");
    assert_eq!(api.post("/v1/session/refresh", Some(&token), json!({})).status, 401);
    let shorter = [("SESSION_TTL_S", "60"), ("SESSION_MAX_LIFETIME_S", "30")];
    Serve::refused(&[EMBEDDED.as_slice(), &shorter].concat());
}

/// A page of an allowed origin may call the API; a preflight is answered before
/// any limit; another origin gets no CORS headers; without the variable there is
/// no CORS at all.
#[test]
fn cors_answers_allowed_origins_only() {
    let preflight = |port: u16, origin: &str| {
        let headers = [
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type, authorization"),
        ];
        http::raw(port, "OPTIONS", "/v1/verifications", &headers, b"", Duration::from_secs(5)).unwrap()
    };
    let serve = serve(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000")]);
    let allowed = preflight(serve.port, "https://app.example.com");
    assert!(allowed.status < 300, "{} {:?}", allowed.status, allowed.headers);
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://app.example.com"));
    let methods = allowed.header("access-control-allow-methods").unwrap_or_default().to_string();
    assert!(methods.contains("POST"), "{methods}");
    let asked = allowed.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(asked.contains("authorization") && asked.contains("content-type"), "{asked}");
    let other = preflight(serve.port, "https://evil.example.net");
    assert_eq!(other.header("access-control-allow-origin"), None);
    let headers = [("Origin", "http://localhost:3000")];
    let simple = http::raw(serve.port, "GET", "/v1/status", &headers, b"", Duration::from_secs(5)).unwrap();
    assert_eq!(simple.header("access-control-allow-origin"), Some("http://localhost:3000"));
    drop(serve);
    let plain = self::serve(&[]);
    assert_eq!(preflight(plain.port, "https://app.example.com").status, 405);
    let slash = [("CORS_ALLOWED_ORIGINS", "https://app.example.com/")];
    let stderr = Serve::refused(&[EMBEDDED.as_slice(), &slash].concat());
    assert!(stderr.contains("CORS_ALLOWED_ORIGINS"), "{stderr}");
}

/// With the database refusing (the proxy in front of it resets every
/// connection), `/readyz`, `/v1/status` and a failed request say `unavailable`
/// and nothing of the driver's error, which the log has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_answers_never_carry_a_providers_error_text() {
    use support::proxy::{FaultProxy, Mode};
    let target = format!("127.0.0.1:{}", support::port("PG_PORT")).parse().unwrap();
    let proxy = FaultProxy::start(target).await;
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let through = url.replace(&target.to_string(), &proxy.addr.to_string());
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", through.as_str()),
        ("DB_AUTO_MIGRATE", "true"),
        ("DB_POOL_ACQUIRE_TIMEOUT_MS", "500"),
        ("RUST_LOG", "info"),
    ];
    let serve = tokio::task::block_in_place(|| Serve::start(&vars));
    let port = serve.port;
    proxy.set(Mode::Reset);
    let bodies = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(15);
        while support::http_get(port, "/readyz").is_none_or(|(status, _)| status != 503) {
            assert!(Instant::now() < deadline, "/readyz never said unavailable");
            std::thread::sleep(Duration::from_millis(100));
        }
        let api = Api { port };
        let ready = api.get("/readyz", None);
        let status = api.get("/v1/status", None);
        let failed = api.post("/v1/verifications", None, json!({ "email": "ada@example.com" }));
        (ready, status, failed)
    })
    .await
    .unwrap();
    let (ready, status, failed) = bodies;
    assert_eq!((failed.status, failed.error()), (503, "unavailable".to_string()), "{}", failed.text());
    let database = |body: &serde_json::Value| {
        body["checks"].as_array().unwrap().iter().find(|c| c["role"] == "database").cloned().unwrap()
    };
    for body in [ready.json(), status.json()] {
        let check = database(&body);
        assert_eq!(check["error"], "unavailable", "{body}");
        let mut keys: Vec<_> = check.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["error", "healthy", "latency_ms", "message", "provider", "role", "status"], "{body}");
    }
    let output = serve.output();
    // The log has the cause, word for word; no public answer has any of it.
    let cause = output
        .lines()
        .filter(|l| l.contains("down") && l.contains("error="))
        .find_map(|l| l.split("error=").nth(1))
        .unwrap_or_else(|| panic!("the log names the cause:\n{output}"))
        .trim_matches('"')
        .to_string();
    for answer in [&ready, &status, &failed] {
        assert!(!answer.text().contains(&cause), "{cause:?} in {}", answer.text());
        for word in ["127.0.0.1", "reset by", "refused", "timed out", "password"] {
            assert!(!answer.text().to_lowercase().contains(word), "{word:?} in {}", answer.text());
        }
    }
    proxy.set(Mode::Pass);
    drop(serve);
    teardown.await;
}
