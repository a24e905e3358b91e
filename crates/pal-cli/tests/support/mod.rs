//! What the `pal` binary's tests share: the binary Cargo built for them, run with a
//! clean environment; `pal serve` as a child process (`serve`); the reference
//! service's flows (`service`), a raw HTTP client (`http`) and an SMTP server
//! that keeps what it receives (`smtp`); and, from
//! `pal-test-support`, the test servers' ports, locks, schemas and fault proxy,
//! which the library's tests use too.

#![allow(dead_code, unused_imports)]

pub(crate) mod http;
pub(crate) mod serve;
pub(crate) mod service;
pub(crate) mod smtp;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) use http::http_get;
pub(crate) use pal_test_support::*;

/// The `pal` binary Cargo built from this checkout for these tests. Only the tests
/// of the crate that owns a binary are given its path, and Cargo builds it before
/// they run, so a test never runs a stale or foreign `pal`.
pub(crate) const PAL: &str = env!("CARGO_BIN_EXE_pal");

/// The `pal` binary of this build, as an operator runs it: nothing of the test's
/// environment leaks in.
pub(crate) fn pal_command() -> Command {
    let mut command = Command::new(PAL);
    command.env_clear();
    command
}

/// Sealing keys for tests (from `pal keygen`), under the key id `k1`.
pub(crate) const KEYS: [(&str, &str); 2] = [
    ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc="),
    ("CACHE_ENCRYPTION_KEYS", "k1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg="),
];

/// Holds `server` for one test at a time, across the test processes of this build
/// (the library's tests take the same locks).
pub(crate) fn exclusive(server: &str) -> Exclusive {
    exclusive_in(env!("CARGO_TARGET_TMPDIR"), server)
}

/// Holds the fault-test Redis for one test at a time across test processes.
pub(crate) fn exclusive_redis_fault() -> Exclusive {
    exclusive("redis_fault")
}

/// A unique key prefix, so runs sharing a server never collide.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}:{}", uuid::Uuid::new_v4().simple())
}

/// `pal` with `args`, as an operator would run it, `vars` its whole environment.
pub(crate) fn command(vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = pal_command();
    command.env("RUST_LOG", "warn").envs(vars.iter().copied()).args(args);
    command
}

/// Runs `pal` as an operator would, timing it from the start of the process.
pub(crate) fn pal(vars: &[(&str, &str)], args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = command(vars, args).output().expect("pal runs");
    (out, started.elapsed())
}

/// Runs `pal` with `input` on standard input; the pipe stays open after it unless
/// `close` is set, so a process that waits for the end of its input does not end.
/// `None` when it has not ended after 20 s (it is killed).
pub(crate) fn pal_with_input(vars: &[(&str, &str)], args: &[&str], input: Vec<u8>, close: bool) -> Option<Output> {
    let mut child = command(vars, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pal runs");
    let mut stdin = child.stdin.take().unwrap();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    // A thread of its own: the process may stop reading before all of it is written.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        if !close {
            let _ = finished.recv_timeout(Duration::from_secs(30));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            drop(done);
            let _ = writer.join();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(done);
    let _ = writer.join();
    Some(child.wait_with_output().unwrap())
}

/// Standard output and error, one after the other.
pub(crate) fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
