//! A fresh `pal` process on redis-hybrid, with the default settings, while Redis
//! hangs or refuses connections: it answers from the database within the bound
//! the README gives (`CACHE_JOURNAL_WAIT_MS`), or at once when Redis refuses.
//! Only the dedicated fault-test Redis (`REDIS_FAULT_PORT`) is stopped, by one
//! test at a time (the `redis-fault` group in `.config/nextest.toml`, and the lock
//! the library's fault tests take). Also: `pal check` through Sentinel naming a
//! master the sentinels do not know.

mod support;

use std::time::Duration;

use support::{Continue, KEYS, exclusive_redis_fault, free_port, pal, pid_of, port, signal, stdout, text};

/// `CACHE_JOURNAL_WAIT_MS`'s default.
const JOURNAL_WAIT: Duration = Duration::from_millis(2000);
/// Starting the process and opening its SQLite file, beside the wait itself.
const START_SLACK: Duration = Duration::from_millis(600);

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
    let pid = pid_of(&port("REDIS_FAULT_PORT"));
    signal(pid, "STOP");
    let _resume = Continue(pid);
    let url = format!("redis://127.0.0.1:{}", port("REDIS_FAULT_PORT"));
    for took in set_then_get(&url) {
        assert!(took < JOURNAL_WAIT + START_SLACK, "a fresh process took {took:?} with Redis hung");
    }
}

#[test]
fn refused_connections_a_fresh_process_answers_from_the_database_at_once() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    for took in set_then_get(&url) {
        assert!(took < Duration::from_secs(1), "a fresh process took {took:?} with Redis refusing connections");
    }
}

#[test]
fn pal_check_reports_a_wrong_master_name_and_exits_1() {
    let nodes: Vec<String> = support::port_list("SENTINEL_PORTS").iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let out = support::pal_command()
        .envs([
            ("CACHE_PROVIDER", "redis"),
            ("DB_PROVIDER", "sqlite"),
            ("DATABASE_URL", "sqlite::memory:"),
            ("REDIS_SENTINEL_ENABLED", "true"),
            ("REDIS_SENTINEL_NODES", &nodes.join(",")),
            ("REDIS_SENTINEL_MASTER", "no-such-master"),
        ])
        .envs(support::SEALING)
        .arg("check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("DOWN: "), "{text}");
}
