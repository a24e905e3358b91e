//! A fresh `pal` process on redis-hybrid, with the default settings, while Redis
//! hangs or refuses connections: it answers from the database within the bound
//! the README gives (`CACHE_JOURNAL_WAIT_MS`), or at once when Redis refuses.
//! Only the dedicated fault-test Redis (`REDIS_FAULT_PORT`) is stopped, by one
//! test at a time (the `redis-fault` group in `.config/nextest.toml`).

mod common;

use std::time::Duration;

use common::{KEYS, closed_port, pal, port, stdout, text};

/// `CACHE_JOURNAL_WAIT_MS`'s default.
const JOURNAL_WAIT: Duration = Duration::from_millis(2000);
/// Starting the process and opening its SQLite file, beside the wait itself.
const START_SLACK: Duration = Duration::from_millis(600);

/// Holds the fault-test Redis for one test at a time across test processes (the
/// lock the library's fault tests take).
fn exclusive_redis_fault() -> std::fs::File {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("redis_fault.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    file.lock().unwrap();
    file
}

fn fault_redis_pid() -> u32 {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}", port("REDIS_FAULT_PORT"))).unwrap();
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2)).expect("the fault-test Redis answers");
    let info: String = redis::cmd("INFO").arg("server").query(&mut conn).unwrap();
    info.lines().find_map(|l| l.strip_prefix("process_id:")).and_then(|p| p.trim().parse().ok()).unwrap()
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Resumes the stopped server when dropped, even when an assertion failed.
struct Continue(u32);

impl Drop for Continue {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

/// Sets a key and reads it back, each in a fresh process on a database of its own
/// (so the set starts with an empty journal and the get with the set's entry in
/// it); returns how long each took.
fn set_then_get(redis_url: &str) -> [Duration; 2] {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hybrid.db").display());
    let vars = [
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", redis_url),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", &db),
        KEYS[0],
        KEYS[1],
    ];
    let (set, set_took) = pal(&vars, &["cache", "set", "k", "v", "--ttl", "60"]);
    assert!(set.status.success(), "{}", text(&set));
    let (get, get_took) = pal(&vars, &["cache", "get", "k"]);
    assert!(get.status.success(), "{}", text(&get));
    assert_eq!(stdout(&get), "v", "served by the database");
    eprintln!("{redis_url}: set {set_took:?}, get {get_took:?}");
    [set_took, get_took]
}

#[test]
fn hung_server_a_fresh_process_answers_within_the_journal_wait() {
    let _exclusive = exclusive_redis_fault();
    let pid = fault_redis_pid();
    signal(pid, "STOP");
    let _resume = Continue(pid);
    let url = format!("redis://127.0.0.1:{}", port("REDIS_FAULT_PORT"));
    for took in set_then_get(&url) {
        assert!(took < JOURNAL_WAIT + START_SLACK, "a fresh process took {took:?} with Redis hung");
    }
}

#[test]
fn refused_connections_a_fresh_process_answers_from_the_database_at_once() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    for took in set_then_get(&url) {
        assert!(took < Duration::from_secs(1), "a fresh process took {took:?} with Redis refusing connections");
    }
}
