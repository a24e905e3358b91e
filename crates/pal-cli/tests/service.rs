//! The reference service (`pal serve`'s /v1 routes) as its clients meet it: the
//! whole flow (enroll, confirm, verify, complete, session, refresh, audit trail,
//! logout, logout everywhere) on five provider pairs; attempts and addresses with
//! no account; rate limits; DEV_EXPOSE_CODES refused off loopback; and arbitrary
//! requests that never get a 5xx. `service_scale.rs` has it scaled out and under
//! stress.

mod support;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

use support::http::{self, Api};
use support::service::{enroll, sign_in, start_verification, unique_email};

/// The rate limits out of the way: these tests send many requests from one address.
const UNLIMITED: [(&str, &str); 2] = [("RATE_LIMIT_IP_PER_MINUTE", "0"), ("RATE_LIMIT_ACCOUNT_PER_MINUTE", "0")];

fn with(base: &[(&str, &str)], more: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    base.iter().chain(more).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn borrowed(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Polls the user's audit trail until it holds `actions` (newest first, in this
/// order, possibly with others between); returns the actions it read.
fn audit_trail(api: Api, token: &str, actions: &[&str]) -> Vec<String> {
    let started = Instant::now();
    loop {
        let response = api.get("/v1/audit", Some(token));
        assert_eq!(response.status, 200, "{}", response.text());
        let read: Vec<String> = response.json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect();
        let mut wanted = actions.iter().peekable();
        for action in &read {
            if wanted.peek().is_some_and(|w| *w == action) {
                wanted.next();
            }
        }
        if wanted.peek().is_none() {
            return read;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the audit trail never showed {actions:?}: {read:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The whole flow on one `pal serve` with `vars` (the providers).
fn full_flow(vars: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = support::namespace();
    let vars = with(vars, &UNLIMITED);
    let serve = support::service::start(&borrowed(&vars), dir.path(), &prefix);
    let api = Api { port: serve.port };
    let email = unique_email();
    let user_id = enroll(api, &email.to_uppercase());

    // The same address again: a code, and the conflict only once it is confirmed.
    let again = api.post("/v1/enrollments", None, json!({ "email": email }));
    assert_eq!(again.status, 202, "{}", again.text());
    let (id, code) = (again.json()["enrollment_id"].clone(), again.json()["code"].clone());
    let conflict =
        api.post(&format!("/v1/enrollments/{}/confirm", id.as_str().unwrap()), None, json!({ "code": code }));
    assert_eq!((conflict.status, conflict.error()), (409, "already_enrolled".into()), "{}", conflict.text());

    // An address with no account: the same answer, and no code completes it.
    let stranger = api.post("/v1/verifications", None, json!({ "email": unique_email() }));
    assert_eq!(stranger.status, 202, "{}", stranger.text());
    let known = api.post("/v1/verifications", None, json!({ "email": email }));
    let keys = |r: &http::Response| r.json().as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&stranger), keys(&known));
    let (id, code) = (stranger.json()["verification_id"].clone(), stranger.json()["code"].clone());
    let refused =
        api.post(&format!("/v1/verifications/{}/complete", id.as_str().unwrap()), None, json!({ "code": code }));
    assert_eq!((refused.status, refused.error()), (400, "invalid_code".into()));

    // Sign in: a wrong code, then the right one, which works once.
    let (id, code) = start_verification(api, &email);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let complete = format!("/v1/verifications/{id}/complete");
    let failed = api.post(&complete, None, json!({ "code": wrong }));
    assert_eq!((failed.status, failed.error()), (400, "invalid_code".into()), "{}", failed.text());
    let done = api.post(&complete, None, json!({ "code": code }));
    assert_eq!(done.status, 200, "{}", done.text());
    let token = done.json()["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 43, "256 bits, base64url");
    assert_eq!(api.post(&complete, None, json!({ "code": code })).status, 404, "a code works once");

    let session = api.get("/v1/session", Some(&token));
    assert_eq!(session.status, 200, "{}", session.text());
    let body = session.json();
    assert_eq!((body["user_id"].as_str(), body["email"].as_str()), (Some(user_id.as_str()), Some(email.as_str())));
    let left = body["expires_in"].as_u64().unwrap();
    assert!((3590..=3600).contains(&left), "{left}");
    let refreshed = api.post("/v1/session/refresh", Some(&token), json!({}));
    assert_eq!((refreshed.status, refreshed.json()["expires_in"].as_u64()), (200, Some(3600)));
    // The refresh replaced the token.
    assert_eq!(api.get("/v1/session", Some(&token)).status, 401);
    let token = refreshed.json()["token"].as_str().unwrap().to_string();

    let trail = audit_trail(api, &token, &["verification_succeeded", "verification_failed", "code_sent", "enrolled"]);
    assert!(!trail.contains(&"rate_limited".to_string()), "{trail:?}");

    // Logout ends this session only; logout everywhere ends every other one.
    let other = sign_in(api, &email);
    assert_eq!(api.delete("/v1/session", Some(&token)).status, 204);
    let gone = api.get("/v1/session", Some(&token));
    assert_eq!((gone.status, gone.error()), (401, "unauthorized".into()));
    assert_eq!(api.get("/v1/session", Some(&other)).status, 200);
    let third = sign_in(api, &email);
    assert_eq!(api.delete("/v1/sessions", Some(&other)).status, 204);
    for t in [&other, &third] {
        assert_eq!(api.get("/v1/session", Some(t)).status, 401);
    }
    let fresh = sign_in(api, &email);
    assert_eq!(api.get("/v1/session", Some(&fresh)).status, 200, "a session after logout everywhere works");
    audit_trail(api, &fresh, &["verification_succeeded", "logout_everywhere", "logout"]);

    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
    assert!(!output.contains(&token), "a token reached the log");
}

fn redis_url(port: &str) -> String {
    format!("redis://127.0.0.1:{}", support::port(port))
}

#[test]
fn full_flow_on_memory_and_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/pal.db", dir.path().display());
    full_flow(&[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", &url)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_on_redis_and_postgresql() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let redis = redis_url("REDIS_PORT");
    let vars =
        [("CACHE_PROVIDER", "redis"), ("REDIS_URL", &redis), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", &url)];
    tokio::task::block_in_place(|| full_flow(&support::sealed(&vars)));
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_on_redis_hybrid_and_postgresql() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let redis = redis_url("REDIS_PORT");
    let vars = [
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &redis),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &url),
    ];
    tokio::task::block_in_place(|| full_flow(&support::sealed(&vars)));
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_on_memcached_and_mysql() {
    let (url, teardown) = support::servers::fresh_mariadb_database().await;
    let servers = format!("127.0.0.1:{}", support::port("MEMCACHED_PORT"));
    let vars = [
        ("CACHE_PROVIDER", "memcached"),
        ("MEMCACHED_SERVERS", &servers),
        ("DB_PROVIDER", "mysql"),
        ("DATABASE_URL", &url),
    ];
    tokio::task::block_in_place(|| full_flow(&support::sealed(&vars)));
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_on_keydb_and_cockroachdb() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let keydb = redis_url("VALKEY_PORT");
    let vars =
        [("CACHE_PROVIDER", "keydb"), ("KEYDB_URL", &keydb), ("DB_PROVIDER", "cockroachdb"), ("DATABASE_URL", &url)];
    tokio::task::block_in_place(|| full_flow(&support::sealed(&vars)));
    teardown.await;
}

fn embedded(dir: &std::path::Path) -> Vec<(String, String)> {
    let url = format!("sqlite://{}/pal.db", dir.display());
    with(&[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", &url)], &[])
}

#[test]
fn the_fifth_wrong_code_closes_a_verification_whether_or_not_the_address_has_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [embedded(dir.path()), with(&[], &UNLIMITED)].concat();
    let serve = support::service::start(&borrowed(&vars), dir.path(), "");
    let api = Api { port: serve.port };
    let email = unique_email();
    enroll(api, &email);
    for address in [email, unique_email()] {
        let (id, code) = start_verification(api, &address);
        let wrong = if code == "999999" { "999998" } else { "999999" };
        let path = format!("/v1/verifications/{id}/complete");
        let answers: Vec<(u16, String)> = (0..5)
            .map(|_| {
                let r = api.post(&path, None, json!({ "code": wrong }));
                (r.status, r.error())
            })
            .collect();
        let wrong_code = (400, "invalid_code".to_string());
        assert_eq!(answers[..4], [wrong_code.clone(), wrong_code.clone(), wrong_code.clone(), wrong_code]);
        assert_eq!(answers[4], (429, "too_many_attempts".to_string()));
        let closed = api.post(&path, None, json!({ "code": code }));
        assert_eq!((closed.status, closed.error()), (404, "not_found".into()), "closed, even for the right code");
    }
    assert_eq!(api.post("/v1/verifications/not-an-id/complete", None, json!({ "code": "1" })).status, 404);
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let vars =
        [embedded(dir.path()), with(&[], &[("RATE_LIMIT_IP_PER_MINUTE", "5"), ("RATE_LIMIT_ACCOUNT_PER_MINUTE", "3")])]
            .concat();
    let serve = support::service::start(&borrowed(&vars), dir.path(), "");
    let api = Api { port: serve.port };
    let email = unique_email();
    let statuses: Vec<u16> =
        (0..4).map(|_| api.post("/v1/verifications", None, json!({ "email": email })).status).collect();
    assert_eq!(statuses, [202, 202, 202, 429], "per account");
    let other = api.post("/v1/verifications", None, json!({ "email": unique_email() }));
    assert_eq!(other.status, 202, "another account, the fifth request of this address");
    let limited = api.post("/v1/verifications", None, json!({ "email": unique_email() }));
    assert_eq!((limited.status, limited.error()), (429, "rate_limited".into()), "per address");
    let retry: u64 = limited.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(api.get("/v1/status", None).status, 200, "routes that send no code are not limited");
}

#[test]
fn dev_expose_codes_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [embedded(dir.path()), with(&[], &[("DEV_EXPOSE_CODES", "true"), ("BIND", "0.0.0.0")])].concat();
    let stderr = support::serve::Serve::refused(&borrowed(&vars));
    assert!(stderr.contains("DEV_EXPOSE_CODES") && stderr.contains("BIND"), "{stderr}");
}

/// One arbitrary request: method, path, headers and body.
fn arbitrary_request() -> impl Strategy<Value = (String, String, Vec<(String, String)>, Vec<u8>)> {
    let any_method = prop_oneof![
        Just("GET".to_string()),
        Just("POST".to_string()),
        Just("DELETE".to_string()),
        Just("PUT".to_string()),
        Just("HEAD".to_string()),
        Just("OPTIONS".to_string()),
        "[A-Z]{1,8}",
    ];
    let id = prop_oneof![Just(uuid::Uuid::new_v4().to_string()), "[A-Za-z0-9%._~-]{0,40}"];
    let route = |method: &'static str, path: &'static str| Just((method.to_string(), path.to_string()));
    // Mostly a route with its own method, so the handlers and extractors run.
    let served = prop_oneof![
        route("POST", "/v1/enrollments"),
        route("POST", "/v1/verifications"),
        id.clone().prop_map(|id| ("POST".to_string(), format!("/v1/enrollments/{id}/confirm"))),
        id.clone().prop_map(|id| ("POST".to_string(), format!("/v1/verifications/{id}/complete"))),
        route("GET", "/v1/session"),
        route("DELETE", "/v1/session"),
        route("POST", "/v1/session/refresh"),
        route("DELETE", "/v1/sessions"),
        route("GET", "/v1/audit"),
        route("GET", "/v1/status"),
        route("GET", "/openapi.json"),
    ];
    let path = prop_oneof![
        served.clone().prop_map(|(_, path)| path),
        id.prop_map(|id| format!("/v1/enrollments/{id}")),
        "/[A-Za-z0-9/%._~?=&-]{0,60}",
    ];
    let method_and_path = prop_oneof![5 => served, 1 => (any_method, path)];
    let header = prop_oneof![
        Just(("Content-Type".to_string(), "application/json".to_string())),
        "[ -~]{0,40}".prop_map(|v| ("Content-Type".to_string(), v.trim().to_string())),
        "[A-Za-z0-9_-]{0,50}".prop_map(|t| ("Authorization".to_string(), format!("Bearer {t}"))),
        "[!-~]{0,60}".prop_map(|v| ("Authorization".to_string(), v)),
        "[0-9a-f.:, ]{0,40}".prop_map(|v| ("X-Forwarded-For".to_string(), v.trim().to_string())),
        "[!-~]{1,40}".prop_map(|v| ("X-Request-Id".to_string(), v)),
        ("[a-z][a-z0-9-]{0,15}", "[!-~]{0,30}").prop_map(|(n, v)| (format!("x-{n}"), v)),
    ];
    let json_value = prop_oneof![
        Just(json!(null)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        ".{0,400}".prop_map(|s| json!(s)),
        "[a-z0-9.+-]{1,20}@[a-z0-9.-]{1,20}".prop_map(|s| json!(s)),
        "[0-9]{6}".prop_map(|s| json!(s)),
        Just(json!({ "nested": [1, 2, { "x": "y" }] })),
    ];
    let body = prop_oneof![
        2 => proptest::collection::vec(any::<u8>(), 0..512),
        3 => json_value.clone().prop_map(|v| serde_json::to_vec(&json!({ "email": v })).unwrap()),
        3 => json_value.prop_map(|v| serde_json::to_vec(&json!({ "code": v })).unwrap()),
        1 => ".{0,200}".prop_map(String::into_bytes),
        1 => Just(vec![b'x'; 20_000]),
    ];
    // Most requests say they are JSON, so the bodies get past the content type.
    let json_type = proptest::bool::weighted(0.7);
    (method_and_path, proptest::collection::vec(header, 0..4), body, json_type).prop_map(
        |((method, path), mut headers, body, json_type)| {
            if json_type && !headers.iter().any(|(n, _)| n == "Content-Type") {
                headers.push(("Content-Type".to_string(), "application/json".to_string()));
            }
            (method, path, headers, body)
        },
    )
}

/// The statuses `/openapi.json` lists for the operation `method path` matches, or
/// `None` when it documents no such operation.
fn documented(document: &serde_json::Value, method: &str, path: &str) -> Option<Vec<String>> {
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let (_, item) = document["paths"].as_object()?.iter().find(|(template, _)| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
    })?;
    let operation = item.get(method.to_ascii_lowercase())?;
    Some(operation["responses"].as_object()?.keys().cloned().collect())
}

#[test]
fn arbitrary_requests_never_get_a_5xx_and_never_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    // Forwarded-for trusted, so the arbitrary X-Forwarded-For values are parsed too;
    // codes are then never exposed, and come from the log.
    let trusted = [("TRUST_FORWARDED_FOR", "true"), ("DEV_EXPOSE_CODES", "false")];
    let vars = [embedded(dir.path()), with(&trusted, &UNLIMITED)].concat();
    let mut serve = support::service::start(&borrowed(&vars), dir.path(), "");
    let port = serve.port;
    let email = unique_email();
    let token = support::service::sign_up_from_log(&serve, Api { port }, &email);
    let document = Api { port }.get("/openapi.json", None).json();
    let undocumented = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    let outcome = runner.run(&arbitrary_request(), |(method, path, headers, body)| {
        let mut headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        // Some requests carry the live session, so the authenticated paths run too;
        // never a logout, which would end it for the rest.
        let bearer = format!("Bearer {token}");
        if body.len() % 3 == 0 && method != "DELETE" {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
            headers.push(("Authorization", &bearer));
        }
        let response = http::raw(port, &method, &path, &headers, &body, Duration::from_secs(10))
            .map_err(|e| TestCaseError::fail(format!("{method} {path}: no HTTP answer: {e}")))?;
        *seen.lock().unwrap().entry(response.status).or_default() += 1;
        if let Some(answers) = documented(&document, &method, &path)
            && !answers.contains(&response.status.to_string())
        {
            undocumented.lock().unwrap().insert(format!("{method} {path}: {}", response.status));
        }
        prop_assert!(response.status < 500, "{method} {path} {headers:?}: {} {}", response.status, response.text());
        if response.status >= 400 && method != "HEAD" && response.header("content-type").is_some() {
            let body: serde_json::Value = serde_json::from_slice(&response.body).map_err(|e| {
                TestCaseError::fail(format!("{method} {path}: error not JSON ({e}): {}", response.text()))
            })?;
            prop_assert!(body["error"].is_string() && body["message"].is_string(), "{body}");
        }
        // Only what HTTP itself rejects (answered by the HTTP layer, with an empty
        // 400) comes back without passing the service's layers.
        let from_http_layer = response.status == 400 && response.body.is_empty();
        prop_assert!(response.header("x-request-id").is_some() || from_http_layer, "{method} {path}: no request id");
        Ok(())
    });
    if let Err(e) = outcome {
        let (_, output) = serve.stop();
        panic!("{e}\n{output}");
    }
    eprintln!("responses by status: {:?}", seen.lock().unwrap());
    let undocumented = undocumented.into_inner().unwrap();
    assert!(undocumented.is_empty(), "answers /openapi.json does not list: {undocumented:#?}");
    assert!(serve.child.try_wait().unwrap().is_none(), "pal serve stopped");
    assert_eq!(support::http_get(port, "/healthz").map(|r| r.0), Some(200));
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
    assert!(!output.contains("panicked"), "{output}");
}

/// A client that retries `POST /v1/enrollments` with the same `Idempotency-Key`
/// gets the first answer again, and no second code is made; another key, or the
/// same key for another address, is another enrollment.
#[test]
fn enrollments_with_an_idempotency_key_are_started_once() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [embedded(dir.path()), with(&[], &UNLIMITED)].concat();
    let serve = support::service::start(&borrowed(&vars), dir.path(), "");
    let api = Api { port: serve.port };
    let post = |key: &str, email: &str| {
        let body = serde_json::to_vec(&json!({ "email": email })).unwrap();
        let headers = [("Content-Type", "application/json"), ("Idempotency-Key", key)];
        http::raw(api.port, "POST", "/v1/enrollments", &headers, &body, Duration::from_secs(30)).unwrap()
    };
    let email = unique_email();
    let key = uuid::Uuid::new_v4().to_string();
    let first = post(&key, &email);
    assert_eq!(first.status, 202, "{}", first.text());
    let again = post(&key, &email);
    assert_eq!(again.status, 202, "{}", again.text());
    assert_eq!(again.json(), first.json(), "the same enrollment and code, answered again");
    let other_key = post(&uuid::Uuid::new_v4().to_string(), &email);
    assert_ne!(other_key.json()["enrollment_id"], first.json()["enrollment_id"]);
    let other_address = post(&key, &unique_email());
    assert_ne!(other_address.json()["enrollment_id"], first.json()["enrollment_id"]);
    let bad = post(&"k".repeat(129), &email);
    assert_eq!((bad.status, bad.error()), (400, "invalid_idempotency_key".to_string()));
    // The replayed enrollment is the one that confirms.
    let id = first.json()["enrollment_id"].as_str().unwrap().to_string();
    let code = first.json()["code"].as_str().unwrap().to_string();
    let confirmed = api.post(&format!("/v1/enrollments/{id}/confirm"), None, json!({ "code": code }));
    assert_eq!(confirmed.status, 201, "{}", confirmed.text());
}
