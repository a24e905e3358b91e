//! Helpers shared by the library's tests that drive real servers: those of every
//! crate's tests (`pal-test-support`: ports, the service script, signals, locks,
//! the fault proxy), and the audit tests' own.

#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::process::Command;

pub(crate) use pal_test_support::*;

pub(crate) mod counting_sink;
pub(crate) mod near;

/// A key prefix of this run's own, starting with `what`: the keys a test writes,
/// its key record among them, are never the ones a server's other users meet.
pub(crate) fn run_prefix(what: &str) -> String {
    format!("{what}{}:", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Deletes the sealing key record (which lives a year) that the writes of a cache
/// configured by `vars` left.
pub(crate) async fn forget_key_record(vars: &[(&str, &str)]) {
    let mut vars = vars.to_vec();
    vars.push(("CACHE_INSECURE_NO_ENCRYPTION", "true"));
    let plain = pal::factory::build_cache(&pal::Settings::from_vars(vars).unwrap()).await.unwrap();
    plain.delete(pal::cache::RECORD_KEY).await.unwrap();
}

/// Holds `server` for one test at a time, across the test processes of this build
/// (the `pal` binary's tests take the same locks).
pub(crate) fn exclusive(server: &str) -> Exclusive {
    exclusive_in(env!("CARGO_TARGET_TMPDIR"), server)
}

/// Holds the fault-test Redis for one test at a time across test processes.
pub(crate) fn exclusive_redis_fault() -> Exclusive {
    exclusive("redis_fault")
}

/// The part an audit test plays in a child process it starts (`spawn_audit_child`):
/// the database URL, the spool directory and the run's tag, or `None` in the test
/// proper.
pub(crate) fn audit_child_args() -> Option<(String, String, String)> {
    let var = |name| std::env::var(name).ok();
    Some((var("PAL_AUDIT_CHILD_URL")?, var("PAL_AUDIT_CHILD_SPOOL")?, var("PAL_AUDIT_CHILD_TAG")?))
}

/// Runs the test `test` of this binary again as a child process that plays the
/// part `audit_child_args` hands it; its standard output is piped.
pub(crate) fn spawn_audit_child(test: &str, url: &str, spool: &Path, tag: &str) -> std::process::Child {
    Command::new(std::env::current_exe().expect("the test binary has a path"))
        .args(["--exact", test, "--nocapture"])
        .env("PAL_AUDIT_CHILD_URL", url)
        .env("PAL_AUDIT_CHILD_SPOOL", spool)
        .env("PAL_AUDIT_CHILD_TAG", tag)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the test binary runs")
}
