//! Helpers shared by the tests that drive real servers: the ports from
//! `scripts/ports.env`, the service script, and signals to server processes.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The repository's root, where `scripts/` lives.
pub fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `pal` binary of this build, as an operator runs it: nothing of the test's
/// environment leaks in. The workspace's test command builds it with the tests.
fn newer_than(dir: &Path, time: std::time::SystemTime) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(newer) = newer_than(&path, time) {
                return Some(newer);
            }
        } else if entry.metadata().and_then(|m| m.modified()).is_ok_and(|m| m > time) {
            return Some(path);
        }
    }
    None
}

pub fn pal_command() -> Command {
    let dir = std::env::current_exe().expect("the test binary has a path");
    // target/<profile>/deps/<test> → target/<profile>/pal
    let bin = dir.parent().and_then(Path::parent).map(|d| d.join("pal")).expect("the target directory");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo nextest run --workspace` (scripts/test)",
        bin.display()
    );
    let mut command = Command::new(bin);
    command.env_clear();
    command
}

/// Sealing keys for tests (from `pal keygen`): providers that store data outside
/// the process refuse to start without them, and the suites run with sealing on.
pub const SEALING: [(&str, &str); 2] = [
    ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc="),
    ("CACHE_ENCRYPTION_KEYS", "test1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg="),
];

/// Opting out of sealing, for tests that read keys and values on the servers.
pub const PLAINTEXT: (&str, &str) = ("CACHE_INSECURE_NO_ENCRYPTION", "true");

/// `vars` plus the test sealing keys.
pub fn sealed<'a>(vars: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vars.to_vec();
    all.extend(SEALING);
    all
}

// Each test binary uses some of them.
#[allow(unused_imports)]
pub use ports::{port, port_list, ports};

/// Starts whatever of one service is not running (idempotent), e.g. a server a
/// fault test killed. Only that service: a test must never restart a node that a
/// test of another service has just killed on purpose.
pub fn ensure(service: &str) {
    let status =
        Command::new(root().join("scripts/services")).args(["start", service]).status().expect("scripts/services runs");
    assert!(status.success(), "scripts/services start {service} failed");
}

/// Holds the fault-test Redis for one test at a time across test processes.
pub fn exclusive_redis_fault() -> std::fs::File {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("redis_fault.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    file.lock().unwrap();
    file
}

/// Starts `service` again when dropped, even when an assertion failed half-way.
pub struct Restore(pub &'static str);

impl Drop for Restore {
    fn drop(&mut self) {
        ensure(self.0);
    }
}

pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Resumes a SIGSTOPped server when dropped, even when an assertion failed.
pub struct Continue(pub u32);

impl Drop for Continue {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

/// A direct connection to one node, for inspecting and breaking it.
pub async fn node(port: &str) -> redis::aio::MultiplexedConnection {
    try_node(port).await.unwrap_or_else(|e| panic!("cannot connect to 127.0.0.1:{port}: {e}"))
}

pub async fn try_node(port: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    client.get_multiplexed_async_connection_with_config(&config).await
}

/// The PID of the server on `port` that this checkout's `scripts/services` started
/// (`scripts/services pid PORT`): a test signals only a server of its own, never
/// whatever happens to listen on the port.
pub fn pid_of(port: &str) -> u32 {
    let out =
        Command::new(root().join("scripts/services")).args(["pid", port]).output().expect("scripts/services runs");
    let pid = String::from_utf8_lossy(&out.stdout).trim().parse().ok().filter(|_| out.status.success());
    pid.unwrap_or_else(|| {
        panic!("no server of this checkout to signal on {port}: {}", String::from_utf8_lossy(&out.stderr).trim())
    })
}

/// SIGKILLs this checkout's Redis-compatible server on `port` and waits until it stops
/// answering: on a loaded machine a kill can take a moment to land (a process
/// inside fork or disk I/O dies when it leaves it), and failover timings start there.
pub async fn kill_redis(port: &str) {
    signal(pid_of(port), "KILL");
    eventually(Duration::from_secs(30), || async { try_node(port).await.is_err() })
        .await
        .unwrap_or_else(|| panic!("the server on {port} still answers after SIGKILL"));
}

/// The keys matching `pattern` (a test's own prefix), each once. By SCAN: KEYS would
/// hold up everyone else's commands on the server while it walks every key.
pub async fn scan<K: redis::FromRedisValue + Ord>(
    conn: &mut redis::aio::MultiplexedConnection,
    pattern: &str,
) -> Vec<K> {
    let (mut cursor, mut keys) = (0u64, Vec::new());
    loop {
        let (next, batch): (u64, Vec<K>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Polls `check` until it holds or `limit` passes; returns how long it took.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Polls `check` on this thread until it holds or `limit` passes; returns how long it took.
pub fn eventually_blocking(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET on loopback: the status and the whole response, or `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    Some((status, response))
}

/// The part an audit test plays in a child process it starts (`spawn_audit_child`):
/// the database URL, the spool directory and the run's tag, or `None` in the test
/// proper.
pub fn audit_child_args() -> Option<(String, String, String)> {
    let var = |name| std::env::var(name).ok();
    Some((var("PAL_AUDIT_CHILD_URL")?, var("PAL_AUDIT_CHILD_SPOOL")?, var("PAL_AUDIT_CHILD_TAG")?))
}

/// Runs the test `test` of this binary again as a child process that plays the
/// part `audit_child_args` hands it; its standard output is piped.
pub fn spawn_audit_child(test: &str, url: &str, spool: &Path, tag: &str) -> std::process::Child {
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

pub mod counting_sink;
pub mod http;
pub mod ports;
pub mod proxy;
pub mod serve;
pub mod service;
