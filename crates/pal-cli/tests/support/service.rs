//! The reference service's flows, as a client goes through them, for the tests
//! that drive `pal serve`.

use std::path::Path;

use serde_json::json;

use super::http::Api;
use super::serve::Serve;

/// An address no other test uses.
pub(crate) fn unique_email() -> String {
    format!("u{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// `pal serve` with `vars`, codes exposed in responses, audit events delivered
/// every 100 ms, a spool and a key prefix of its own (tests share servers).
pub(crate) fn start(vars: &[(&str, &str)], dir: &Path, prefix: &str) -> Serve {
    let spool = dir.join("spool").display().to_string();
    let mut all: Vec<(&str, &str)> = vec![
        ("DEV_EXPOSE_CODES", "true"),
        ("AUDIT_FLUSH_INTERVAL_MS", "100"),
        ("AUDIT_SPOOL_DIR", &spool),
        ("CACHE_KEY_PREFIX", prefix),
        ("DB_AUTO_MIGRATE", "true"),
        ("RUST_LOG", "info"),
    ];
    // The caller's values win over these defaults.
    all.retain(|(name, _)| !vars.iter().any(|(n, _)| n == name));
    all.extend_from_slice(vars);
    Serve::start(&all)
}

/// Enrolls `email`; returns the new user's id.
pub(crate) fn enroll(api: Api, email: &str) -> String {
    let started = api.post("/v1/enrollments", None, json!({ "email": email }));
    assert_eq!(started.status, 202, "{}", started.text());
    let body = started.json();
    let id = body["enrollment_id"].as_str().unwrap();
    let code = body["code"].as_str().expect("DEV_EXPOSE_CODES returns the code");
    let confirmed = api.post(&format!("/v1/enrollments/{id}/confirm"), None, json!({ "code": code }));
    assert_eq!(confirmed.status, 201, "{}", confirmed.text());
    let body = confirmed.json();
    assert_eq!(body["email"], email.to_lowercase());
    body["user_id"].as_str().unwrap().to_string()
}

/// Starts a verification: its id and code.
pub(crate) fn start_verification(api: Api, email: &str) -> (String, String) {
    let started = api.post("/v1/verifications", None, json!({ "email": email }));
    assert_eq!(started.status, 202, "{}", started.text());
    let body = started.json();
    (body["verification_id"].as_str().unwrap().to_string(), body["code"].as_str().unwrap().to_string())
}

/// Signs `email` in: a bearer token.
pub(crate) fn sign_in(api: Api, email: &str) -> String {
    let (id, code) = start_verification(api, email);
    let done = api.post(&format!("/v1/verifications/{id}/complete"), None, json!({ "code": code }));
    assert_eq!(done.status, 200, "{}", done.text());
    done.json()["token"].as_str().unwrap().to_string()
}

/// The code the log sender wrote for the request `id`, as an operator without
/// `DEV_EXPOSE_CODES` finds it.
pub(crate) fn logged_code(serve: &Serve, id: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let output = serve.output();
        let code = output
            .lines()
            .filter(|l| l.contains("one-time code") && l.contains(id))
            .find_map(|l| l.split("code=").nth(1))
            .map(|c| c.trim_matches('"').chars().take_while(char::is_ascii_digit).collect::<String>());
        if let Some(code) = code.filter(|c| c.len() == 6) {
            return code;
        }
        assert!(std::time::Instant::now() < deadline, "no code logged for {id}:\n{output}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Enrolls `email` and signs it in with the codes from the log; the token.
pub(crate) fn sign_up_from_log(serve: &Serve, api: Api, email: &str) -> String {
    let started = api.post("/v1/enrollments", None, json!({ "email": email }));
    assert_eq!(started.status, 202, "{}", started.text());
    let id = started.json()["enrollment_id"].as_str().unwrap().to_string();
    let code = logged_code(serve, &id);
    let confirmed = api.post(&format!("/v1/enrollments/{id}/confirm"), None, json!({ "code": code }));
    assert_eq!(confirmed.status, 201, "{}", confirmed.text());
    let started = api.post("/v1/verifications", None, json!({ "email": email }));
    assert_eq!(started.status, 202, "{}", started.text());
    let id = started.json()["verification_id"].as_str().unwrap().to_string();
    let code = logged_code(serve, &id);
    let done = api.post(&format!("/v1/verifications/{id}/complete"), None, json!({ "code": code }));
    assert_eq!(done.status, 200, "{}", done.text());
    done.json()["token"].as_str().unwrap().to_string()
}
