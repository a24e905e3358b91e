//! `pal audit` as an operator runs it on the embedded database: log an event,
//! read it back with filters, see the spool, and bad input refused.

use std::process::{Command, Output};

fn pal(dir: &std::path::Path, args: &[&str]) -> Output {
    let url = format!("sqlite://{}", dir.join("pal.db").display());
    Command::new(env!("CARGO_BIN_EXE_pal"))
        .env_clear()
        .envs([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", url.as_str())])
        .env("AUDIT_SPOOL_DIR", dir.join("spool"))
        .args(args)
        .output()
        .expect("pal runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn log_tail_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = pal(
        dir.path(),
        &["audit", "log", "login", "--subject", "alice", "--ip", "203.0.113.7", "--details", r#"{"ok":true}"#],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 36, "prints the event's id: {id}");
    assert_eq!(pal(dir.path(), &["audit", "log", "logout", "--subject", "bob"]).status.code(), Some(0));

    let out = pal(dir.path(), &["audit", "tail", "--json"]);
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 2, "{}", text(&out));
    assert_eq!(
        (events[0]["action"].as_str(), events[1]["action"].as_str()),
        (Some("login"), Some("logout")),
        "oldest first"
    );
    assert_eq!(events[0]["id"], id.as_str());
    assert_eq!(events[0]["ip"], "203.0.113.7");
    assert_eq!(events[0]["details"]["ok"], true);

    let out = pal(dir.path(), &["audit", "tail", "--subject", "bob"]);
    let shown = text(&out);
    assert!(shown.contains("logout") && !shown.contains("login "), "{shown}");
    let out = pal(dir.path(), &["audit", "tail", "--since", "2999-01-01T00:00:00Z", "--json"]);
    assert!(out.stdout.is_empty(), "{}", text(&out));

    let out = pal(dir.path(), &["audit", "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("2 events"), "{}", text(&out));
}

#[test]
fn bad_input_is_refused_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["audit", "log", "x", "--details", "{not json"][..],
        &["audit", "log", "   "][..],
        &["audit", "tail", "--since", "yesterday"][..],
    ] {
        let out = pal(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_pal"))
        .env_clear()
        .envs([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("AUDIT_OVERFLOW", "sometimes")])
        .args(["audit", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("AUDIT_OVERFLOW") && text(&out).contains("spool"), "{}", text(&out));
}
