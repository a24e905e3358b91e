//! The `pal` binary against real servers, as a new user meets it: values through
//! standard input and out, keys without an expiry, `?db=` in `REDIS_URL`, a
//! cache written with other keys, Ctrl-C on a long statement, a large result.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::text;

fn run(vars: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> Output {
    let mut child = support::pal_command()
        .envs(vars.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn redis_url() -> String {
    format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"))
}

fn prefix() -> String {
    format!("cli{}:", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

#[test]
fn values_come_from_stdin_and_go_out_as_stored() {
    let (url, prefix) = (redis_url(), prefix());
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", &url),
        ("CACHE_KEY_PREFIX", &prefix),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
    ]);
    let value: Vec<u8> = (0..=255u8).chain(b"\nend".iter().copied()).cycle().take(2 << 20).collect();
    let out = run(&vars, &["cache", "set", "blob", "-", "--ttl", "60"], &value);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(&vars, &["cache", "get", "blob"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout == value, "2 MiB of bytes from stdin come back exactly, with nothing added");
    run(&vars, &["cache", "set", "word", "text", "--ttl", "60"], b"");
    assert_eq!(run(&vars, &["cache", "get", "word"], b"").stdout, b"text", "no newline added for a pipe");
}

/// Deletes a key when dropped, even when an assertion failed half-way.
struct DeleteOnDrop(String, String);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let deleted = redis::Client::open(self.0.as_str())
            .and_then(|client| client.get_connection())
            .and_then(|mut conn| redis::cmd("DEL").arg(&self.1).query::<i64>(&mut conn));
        if let Err(e) = deleted {
            eprintln!("could not delete {}: {e}", self.1);
        }
    }
}

#[tokio::test]
async fn a_key_without_expiry_says_so_and_db_in_the_query_is_honoured() {
    let prefix = prefix();
    let url = format!("{}?db=2", redis_url());
    let vars = [
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", url.as_str()),
        ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
    ];
    let key = format!("{prefix}forever");
    let mut db2 = support::node(&support::port("REDIS_PORT")).await;
    let _: () = redis::cmd("SELECT").arg(2).query_async(&mut db2).await.unwrap();
    // The one key a test leaves without an expiry, for the few seconds of this case.
    let _forever = DeleteOnDrop(format!("redis://127.0.0.1:{}/2", support::port("REDIS_PORT")), key.clone());
    let _: () = redis::cmd("SET").arg(&key).arg("v").query_async(&mut db2).await.unwrap();
    let out = run(&vars, &["cache", "ttl", &key], b"");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no expiry", "{}", text(&out));

    let written = format!("{prefix}in-db-2");
    let out = run(&vars, &["cache", "set", &written, "v", "--ttl", "60"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let in_2: Option<String> = redis::cmd("GET").arg(&written).query_async(&mut db2).await.unwrap();
    let mut db0 = support::node(&support::port("REDIS_PORT")).await;
    let in_0: Option<String> = redis::cmd("GET").arg(&written).query_async(&mut db0).await.unwrap();
    assert_eq!((in_2.as_deref(), in_0), (Some("v"), None), "?db=2 selects database 2");
}

#[test]
fn a_cache_written_with_other_keys_is_reported_not_taken_for_empty() {
    let (url, prefix) = (redis_url(), prefix());
    let base = [
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", url.as_str()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("DB_AUTO_MIGRATE", "true"),
    ];
    const SECRET_A: &str = "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc=";
    const SECRET_B: &str = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=";
    const K1: &str = "k1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg=";
    const K2: &str = "k2:lGG2IZsafEFdou6ycAsE+/Q3awBmrucHKea7Nj8vR0g=";
    let with = |secret: &'static str, keys: &'static str| {
        let mut vars = base.to_vec();
        vars.extend([("CACHE_KEY_SECRET", secret), ("CACHE_ENCRYPTION_KEYS", keys)]);
        vars
    };
    let k21 = Box::leak(format!("{K2},{K1}").into_boxed_str());
    assert_eq!(run(&with(SECRET_A, k21), &["check"], b"").status.code(), Some(0));
    run(&with(SECRET_A, k21), &["cache", "set", "s", "v", "--ttl", "60"], b"");

    let out = run(&with(SECRET_B, k21), &["check"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("another CACHE_KEY_SECRET"), "{}", text(&out));

    let out = run(&with(SECRET_A, K2), &["check"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("key id \"k1\"") && text(&out).contains("no longer in CACHE_ENCRYPTION_KEYS"),
        "{}",
        text(&out)
    );
}

/// Runs `pal db exec` on `sql`, interrupts it with SIGINT mid-statement, and
/// returns its exit status and output.
fn interrupted(vars: &[(&str, &str)], sql: &str) -> (Option<i32>, String) {
    let child = support::pal_command()
        .envs(vars.iter().copied())
        .args(["db", "exec", sql])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_the_statement_on_the_server() {
    let (pg, pg_teardown) = support::servers::fresh_postgres_schema().await;
    let (maria, maria_teardown) = support::servers::fresh_mariadb_database().await;
    let slow = [
        ("postgresql", pg.as_str(), "UPDATE t SET v = (SELECT 'changed' FROM pg_sleep(3))"),
        (
            "mysql",
            maria.as_str(),
            "UPDATE t SET v = (SELECT IF(COUNT(*) > 0, 'changed', 'none') FROM seq_1_to_100000000000 WHERE seq % 7 = 3)",
        ),
    ];
    for (provider, url, sql) in slow {
        let db = support::servers::database(provider, url, &[]).await;
        db.execute("CREATE TABLE t (v VARCHAR(20))", &[]).await.unwrap();
        db.execute("INSERT INTO t (v) VALUES ('old')", &[]).await.unwrap();
        let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)];
        let started = Instant::now();
        let (code, output) = tokio::task::block_in_place(|| interrupted(&vars, sql));
        assert_eq!(code, Some(130), "{provider}: {output}");
        assert!(output.contains("stopped: it changed nothing"), "{provider}: {output}");
        assert!(started.elapsed() < Duration::from_millis(2900), "{provider}: stopped, not waited out");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let v: String = db.query("SELECT v FROM t", &[]).await.unwrap()[0].get("v").unwrap();
        assert_eq!(v, "old", "{provider}: the interrupted write did not happen later");
    }
    pg_teardown.await;
    maria_teardown.await;
}

/// The peak resident memory of a process, from /proc while it runs.
fn peak_resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_large_json_result_streams_through_bounded_memory() {
    let url = support::servers::postgres();
    let sql = "SELECT g AS n, repeat('x', 1000) AS v FROM generate_series(1, 200000) g";
    let mut child = support::pal_command()
        .envs([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", url.as_str())])
        .args(["db", "query", sql, "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut bytes, mut buf) = (0usize, vec![0u8; 1 << 16]);
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            bytes += n;
        }
        bytes
    });
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(peak_resident_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let bytes = reader.join().unwrap();
    eprintln!("{} MB of JSON out, peak resident memory {} MiB", bytes >> 20, peak >> 10);
    assert!(bytes > 200_000 * 1000, "every row came out: {bytes} bytes");
    assert!(peak < 100 * 1024, "peak resident memory {} MiB for a 200 MB result", peak >> 10);
}

/// A NUMERIC/DECIMAL beyond a float prints with every digit, as a JSON number and
/// in a table, on PostgreSQL and MariaDB; one a float holds prints as before.
#[test]
fn decimals_print_with_every_digit() {
    let (pg_url, maria_url) = (support::servers::postgres(), support::servers::mariadb());
    let pg = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", pg_url.as_str())];
    let maria = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "mysql"), ("DATABASE_URL", maria_url.as_str())];
    let sql = "SELECT CAST('12345678901234567890123' AS DECIMAL(40,0)) AS n, \
               CAST('-1234567890.0123456789' AS DECIMAL(30,10)) AS f, CAST('1.5' AS DECIMAL(4,1)) AS h";
    for vars in [&pg[..], &maria[..]] {
        let out = run(vars, &["db", "query", sql, "--json"], b"");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let json = String::from_utf8_lossy(&out.stdout);
        assert_eq!(json.trim(), r#"{"n":12345678901234567890123,"f":-1234567890.0123456789,"h":1.5}"#);
        let out = run(vars, &["db", "query", sql], b"");
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains(" 12345678901234567890123 ") && table.contains(" -1234567890.0123456789 "), "{table}");
    }
    let out = run(&pg, &["db", "query", "SELECT 1e400::numeric AS big", "--json"], b"");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!(r#"{{"big":1{}}}"#, "0".repeat(400)));
}
