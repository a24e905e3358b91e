//! What the tests of every crate share about the test servers (`scripts/services`):
//! their ports from `scripts/ports.env`, starting a service again, signals to a
//! server of this checkout, locks that hold a server for one test at a time,
//! schemas and databases of a test's own, the fault proxy, the replicated pairs.
//! The library's tests, the `pal` binary's tests, the benchmarks and the
//! examples use it; nothing here runs the `pal` binary.
//!
//! Test code, as a crate's `tests/` folder is: the architecture checks do not read it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub mod hybrid;
pub mod ports;
pub mod proxy;
pub mod replication;
pub mod servers;

pub use ports::{port, port_list, ports};

/// The repository's root, where `scripts/` lives.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
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

/// A key namespace unique to one test run, so tests sharing a server never collide.
pub fn namespace() -> String {
    format!("t{}:", uuid::Uuid::new_v4().simple())
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
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

/// Runs `scripts/services ACTION NAME`, e.g. `start redis` to start whatever of
/// that service is not running (idempotent), or `stop postgres_fault`.
pub fn services(action: &str, name: &str) {
    let status =
        Command::new(root().join("scripts/services")).args([action, name]).status().expect("scripts/services runs");
    assert!(status.success(), "scripts/services {action} {name} failed");
}

/// Starts whatever of one service is not running (idempotent), e.g. a server a
/// fault test killed. Only that service: a test must never restart a node that a
/// test of another service has just killed on purpose.
pub fn ensure(service: &str) {
    services("start", service);
}

/// Starts `service` again when dropped, even when an assertion failed half-way.
pub struct Restore(pub &'static str);

impl Drop for Restore {
    fn drop(&mut self) {
        ensure(self.0);
    }
}

/// Holds a server for one test at a time across test processes: an advisory
/// lock on a file of `dir` named after it, released when dropped. Every test
/// process of a build must pass the same `dir` (`env!("CARGO_TARGET_TMPDIR")`,
/// which Cargo gives integration tests only, hence a parameter).
pub struct Exclusive(#[allow(unused)] std::fs::File);

/// Waits for, then holds, the lock on `server` in `dir`.
pub fn exclusive_in(dir: &str, server: &str) -> Exclusive {
    let path = Path::new(dir).join(format!("{server}.lock"));
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    file.lock().unwrap();
    Exclusive(file)
}

/// Sends `signal` (a name such as `STOP` or `CONT`) to process `pid`; panics when
/// `kill` fails.
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

/// A direct connection to one node, for inspecting and breaking it.
pub async fn node(port: &str) -> redis::aio::MultiplexedConnection {
    try_node(port).await.unwrap_or_else(|e| panic!("cannot connect to 127.0.0.1:{port}: {e}"))
}

/// A direct connection to the node on `port`, with two seconds to connect and per response.
pub async fn try_node(port: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    client.get_multiplexed_async_connection_with_config(&config).await
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
