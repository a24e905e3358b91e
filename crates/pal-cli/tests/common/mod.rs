//! What the tests that run `pal` against the project's servers share: the ports
//! from `scripts/ports.env`, the binary with a clean environment, test sealing keys.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Sealing keys for tests (from `pal keygen`).
pub const KEYS: [(&str, &str); 2] = [
    ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc="),
    ("CACHE_ENCRYPTION_KEYS", "k1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg="),
];

pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[path = "../../../pal/tests/support/ports.rs"]
mod ports;

/// A port from `scripts/ports.env`, or the environment variable that overrides it.
pub use ports::port;

/// A port nothing listens on now.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A file of the test servers' TLS material (`scripts/services` writes them).
pub fn tls_file(name: &str) -> String {
    let path = root().join(".services/tls").join(name);
    path.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/services writes it)", path.display()))
        .display()
        .to_string()
}

/// A unique key prefix, so runs sharing a server never collide.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}:{}", uuid::Uuid::new_v4().simple())
}

fn command(vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pal"));
    command.env_clear().env("RUST_LOG", "warn").envs(vars.iter().copied()).args(args);
    command
}

/// Runs `pal` as an operator would, timing it from the start of the process.
pub fn pal(vars: &[(&str, &str)], args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = command(vars, args).output().expect("pal runs");
    (out, started.elapsed())
}

/// Runs `pal` with `input` on standard input; the pipe stays open after it unless
/// `close` is set, so a process that waits for the end of its input does not end.
/// `None` when it has not ended after 20 s (it is killed).
pub fn pal_with_input(vars: &[(&str, &str)], args: &[&str], input: Vec<u8>, close: bool) -> Option<Output> {
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

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
