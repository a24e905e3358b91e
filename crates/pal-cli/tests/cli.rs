//! The `pal` binary as an operator runs it: exit codes, messages, redaction,
//! and `pal serve` answering health checks and stopping on SIGTERM.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::serve::Serve;
use support::{KEYS, free_port, http_get, pal_command, text};

fn pal(vars: &[(&str, &str)], args: &[&str]) -> Output {
    pal_command().envs(vars.iter().copied()).args(args).output().expect("pal runs")
}

const EMBEDDED: &[(&str, &str)] =
    &[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")];

#[test]
fn unknown_provider_exits_2_naming_the_variable_and_accepted_values() {
    let out = pal(&[("CACHE_PROVIDER", "bogus"), ("DB_PROVIDER", "sqlite")], &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("CACHE_PROVIDER"), "{msg}");
    for name in ["redis", "redis-hybrid", "memory", "keydb", "memcached"] {
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn redis_password_is_never_printed() {
    let cases: [(Vec<(&str, &str)>, i32); 3] = [
        // Incomplete configuration: no database URL, no sealing keys.
        (vec![("REDIS_URL", "redis://user:s3cret@127.0.0.1:1")], 2),
        // Complete, with Redis down: the check runs and says so.
        (
            vec![
                ("REDIS_URL", "redis://user:s3cret@127.0.0.1:1"),
                ("DB_PROVIDER", "sqlite"),
                ("DATABASE_URL", "sqlite::memory:"),
                KEYS[0],
                KEYS[1],
            ],
            1,
        ),
        (vec![("REDIS_URL", "redis://user:s3cret@:bad"), ("DB_PROVIDER", "sqlite")], 2),
    ];
    for (vars, code) in cases {
        let out = pal(&vars, &["check"]);
        let msg = text(&out);
        assert!(!msg.contains("s3cret"), "{msg}");
        assert_eq!(out.status.code(), Some(code), "{msg}");
    }
}

/// A class of configuration error, the variables that cause it, and what the message names.
type ConfigCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

/// Every class of configuration error exits 2, naming the variable to fix.
#[test]
fn every_configuration_error_exits_2() {
    let memory = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")];
    let redis = [("CACHE_PROVIDER", "redis"), ("REDIS_URL", "redis://127.0.0.1:1"), ("DB_PROVIDER", "sqlite")];
    let cases: [ConfigCase; 9] = [
        ("unknown provider", vec![("CACHE_PROVIDER", "bogus"), ("DB_PROVIDER", "sqlite")], "CACHE_PROVIDER"),
        ("missing URL", vec![("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql")], "DATABASE_URL must be set"),
        ("malformed URL", [&memory[..], &[("DATABASE_URL", "sqlite//x")]].concat(), "DATABASE_URL is not a valid URL"),
        (
            "contradictory flags",
            [&memory[..], &[("DB_POOL_MIN", "9"), ("DB_POOL_MAX", "2")]].concat(),
            "DB_POOL_MIN=9 is larger than DB_POOL_MAX=2",
        ),
        ("missing sealing keys", redis.to_vec(), "CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS must be set"),
        (
            "bad key encoding",
            [&redis[..], &[("CACHE_KEY_SECRET", "not base64!"), KEYS[1]]].concat(),
            "CACHE_KEY_SECRET",
        ),
        ("bad number", [&memory[..], &[("DB_POOL_MAX", "lots")]].concat(), "DB_POOL_MAX=\"lots\""),
        ("bad boolean", [&memory[..], &[("DB_AUTO_MIGRATE", "perhaps")]].concat(), "DB_AUTO_MIGRATE"),
        ("bad tool variable", [&memory[..], &[("BIND", "everywhere")]].concat(), "BIND"),
    ];
    for (class, vars, names) in cases {
        // The listener's variables are `pal serve`'s alone.
        let command = if names == "BIND" { "serve" } else { "check" };
        let out = pal(&vars, &[command]);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(2), "{class}: {msg}");
        assert!(msg.contains(names), "{class}: the message names {names:?}: {msg}");
    }
}

/// Exit status 1 answers "no", 3 says the operation failed: a script tells a
/// missing key from a value that fails authentication.
#[test]
fn exit_status_tells_missing_from_failed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tell.db").display());
    let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", url.as_str())];
    assert_eq!(pal(&vars, &["cache", "get", "nope"]).status.code(), Some(1), "missing");
    let out = pal(&vars, &["db", "query", "SELECT * FROM no_such_table"]);
    assert_eq!(out.status.code(), Some(3), "failed: {}", text(&out));
    assert!(text(&out).contains("no such table"), "{}", text(&out));
    let out = pal(&vars, &["cache", "set", "k", "v", "--ttl", "0"]);
    assert_eq!(out.status.code(), Some(2), "a zero TTL is a usage error: {}", text(&out));
    let help = String::from_utf8(pal(&[], &["--help"]).stdout).unwrap();
    assert!(help.contains("1 the answer is no") && help.contains("3 the operation failed"), "{help}");
}

#[test]
fn the_memory_cache_says_a_cli_write_does_not_outlive_the_command() {
    let out = pal(EMBEDDED, &["cache", "set", "k", "v", "--ttl", "60"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("gone when it exits"), "{}", text(&out));
}

#[test]
fn check_reports_healthy_embedded_providers() {
    let out = pal(EMBEDDED, &["check"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(0), "{msg}");
    assert!(msg.contains("memory") && msg.contains("sqlite") && msg.contains("healthy"), "{msg}");
}

#[test]
fn check_exits_1_when_a_provider_is_down() {
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite:///nonexistent-dir/x/pal.db"),
    ];
    let out = pal(&vars, &["check"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("DOWN: "), "{msg}");
}

#[test]
fn cache_commands() {
    let out = pal(EMBEDDED, &["cache", "get", "nope"]);
    assert_eq!(out.status.code(), Some(1), "a missing key exits 1: {}", text(&out));
    let out = pal(EMBEDDED, &["cache", "incr", "c", "--by", "-3", "--ttl", "10"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "-3", "{}", text(&out));
    let out = pal(EMBEDDED, &["cache", "set", "k", "v", "--ttl", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("TTL must be longer than zero"), "{}", text(&out));
}

#[test]
fn db_commands_on_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", url.as_str())];
    let out = pal(&vars, &["migrate"]);
    assert!(text(&out).contains("applied 0001_users"), "{}", text(&out));
    let out = pal(&vars, &["migrate"]);
    assert!(text(&out).contains("up to date"), "{}", text(&out));
    let insert = "INSERT INTO users (id, email, verified, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)";
    let out = pal(&vars, &["db", "exec", insert, "u1", "a@example.com", "bool:true", "ts:2026-01-01T00:00:00Z"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1", "{}", text(&out));
    let out = pal(&vars, &["db", "query", "SELECT email, verified FROM users WHERE id = $1", "u1", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), r#"{"email":"a@example.com","verified":true}"#);
    let out = pal(&vars, &["db", "query", "SELEC nonsense"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).contains("syntax error"), "{}", text(&out));
}

/// Without DB_REPLICA_URL the read path is the primary's, read-only: a write sent
/// down it fails and writes nothing, and a note says who served the read.
#[test]
fn the_read_path_without_replicas_reads_the_primary_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("reads.db").display());
    let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", url.as_str())];
    let out = pal(&vars, &["db", "query", "--replica", "CREATE TABLE t (a INTEGER)"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no DB_REPLICA_URL: the primary serves this read, read-only"), "{stderr}");
    assert!(stderr.contains("read-only: attempt to write a readonly database"), "{stderr}");
    let tables = ["db", "query", "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 't'", "--json"];
    assert_eq!(String::from_utf8_lossy(&pal(&vars, &tables).stdout).trim(), r#"{"n":0}"#, "nothing was created");
    let out = pal(&vars, &["db", "query", "--replica", "SELECT 1 AS one", "--json"]);
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).trim()), (Some(0), r#"{"one":1}"#));
    let help = String::from_utf8(pal(&[], &["db", "query", "--help"]).stdout).unwrap();
    assert!(help.contains("Read-only wherever it runs") && help.contains("never after a timeout"), "{help}");
}

/// A database port that refuses connections is known at once: `pal check`, a
/// fresh process with the default settings, says so well within a second.
#[test]
fn a_database_refusing_connections_is_down_at_once() {
    for (provider, scheme) in [("postgresql", "postgres"), ("mysql", "mysql")] {
        let url = format!("{scheme}://app@127.0.0.1:{}/app", free_port());
        let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url.as_str())];
        let started = Instant::now();
        let out = pal(&vars, &["check"]);
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("DOWN: ") && text(&out).contains("connection refused"), "{}", text(&out));
        assert!(took < Duration::from_secs(1), "{provider}: took {took:?}");
    }
}

/// A server that accepts connections and never answers still gets the whole
/// DB_POOL_ACQUIRE_TIMEOUT_MS: only a refusal is known at once.
#[test]
fn a_database_that_accepts_and_never_answers_meets_the_acquire_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("postgres://app@{}/app", silent.local_addr().unwrap());
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", url.as_str()),
        ("DB_POOL_ACQUIRE_TIMEOUT_MS", "1000"),
    ];
    let started = Instant::now();
    let out = pal(&vars, &["check"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("could not connect to the server within 1000 ms"), "{}", text(&out));
    assert!(took >= Duration::from_millis(1000) && took < Duration::from_secs(5), "took {took:?}");
    drop(silent);
}

/// The binary these tests run is the one Cargo built for them from this checkout
/// (`CARGO_BIN_EXE_pal`), never one found by guessing where a build put it.
#[test]
fn the_binary_under_test_is_the_one_cargo_built_for_these_tests() {
    assert_eq!(pal_command().get_program(), env!("CARGO_BIN_EXE_pal"));
    assert!(std::path::Path::new(support::PAL).is_file(), "{}", support::PAL);
    let out = pal(&[], &["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(env!("CARGO_PKG_VERSION")), "{}", text(&out));
}

#[test]
fn serve_answers_health_and_stops_on_sigterm() {
    let mut serve = Serve::start(EMBEDDED);
    let port = serve.port;
    let (status, body) = http_get(port, "/healthz").unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(port, "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ready\"") && body.contains("\"memory\"") && body.contains("\"sqlite\""), "{body}");
    serve.sigterm();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            assert!(status.success(), "graceful shutdown exits 0, got {status}");
            break;
        }
        assert!(Instant::now() < deadline, "pal serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn readyz_is_503_when_a_provider_is_down() {
    // Without auto-migration, serve starts even though the database cannot be opened.
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite:///nonexistent-dir/x/pal.db"),
        ("DB_AUTO_MIGRATE", "false"),
    ];
    let serve = Serve::start(&vars);
    let (status, body) = http_get(serve.port, "/readyz").unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"unavailable\""), "{body}");
    assert_eq!(http_get(serve.port, "/healthz").unwrap().0, 200, "liveness does not depend on providers");
}

/// What a new user meets in a shell: a closed pipe, a full disk, duplicate
/// column names, NULL beside the text NULL, bad TTLs, empty SQL, fresh key ids.
mod first_hour {
    use super::*;

    const MANY_ROWS: &str =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT x FROM c";

    #[test]
    fn a_closed_pipe_ends_quietly_and_a_full_disk_is_reported() {
        let mut child = pal_command()
            .envs(EMBEDDED.iter().copied())
            .args(["db", "query", MANY_ROWS, "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        // The reader goes away, as `| head` does.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "ends as a process killed by SIGPIPE would: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");

        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = pal_command()
            .envs(EMBEDDED.iter().copied())
            .args(["db", "query", "SELECT 1 AS a"])
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains("cannot write the output") && !stderr.contains("panicked"), "{stderr}");
    }

    #[test]
    fn json_keeps_every_column_in_order() {
        let out = pal(EMBEDDED, &["db", "query", "SELECT 1 AS id, 2 AS id, 'x' AS a, 3 AS b", "--json"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), r#"{"id":1,"id:2":2,"a":"x","b":3}"#, "{}", text(&out));
        let help = String::from_utf8(pal(&[], &["db", "query", "--help"]).stdout).unwrap();
        assert!(help.contains("id:2"), "the help says how repeated names are kept: {help}");
    }

    #[test]
    fn tables_tell_null_from_the_text_null() {
        let out = pal(EMBEDDED, &["db", "query", "SELECT NULL AS n, 'NULL' AS t"]);
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains(" NULL ") && table.contains("'NULL'"), "{table}");
    }

    #[test]
    fn bad_ttls_and_empty_sql_are_usage_errors() {
        for ttl in ["0", "31536001", "abc"] {
            let out = pal(EMBEDDED, &["cache", "set", "k", "v", "--ttl", ttl]);
            assert_eq!(out.status.code(), Some(2), "--ttl {ttl}: {}", text(&out));
        }
        let out = pal(EMBEDDED, &["db", "query", "  "]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let out = pal(EMBEDDED, &["db", "query", "SELECT 1 AS a; SELECT 2 AS b"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("one statement per call"), "{}", text(&out));
    }

    #[test]
    fn keygen_ids_are_unique_so_the_rotation_advice_works() {
        let id = |out: Output| {
            let text = String::from_utf8(out.stdout).unwrap();
            text.lines().nth(1).unwrap().split_once('=').unwrap().1.split(':').next().unwrap().to_string()
        };
        let (a, b) = (id(pal(&[], &["keygen"])), id(pal(&[], &["keygen"])));
        assert_ne!(a, b);
    }
}

/// The answers an operator met in the first hour: one rule for "no", each command
/// validating only what it uses, host names where servers accept them, warnings once.
mod answers {
    use super::*;

    #[test]
    fn deleting_a_missing_key_is_a_no_like_get_and_ttl() {
        let key = format!("pal-cli-del-{}", std::process::id());
        let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
        let vars = [
            ("CACHE_PROVIDER", "redis"),
            ("REDIS_URL", url.as_str()),
            ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
            ("DB_PROVIDER", "sqlite"),
            ("DATABASE_URL", "sqlite::memory:"),
        ];
        let out = pal(&vars, &["cache", "set", &key, "v", "--ttl", "60"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let out = pal(&vars, &["cache", "del", &key]);
        assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).trim()), (Some(0), "deleted"));
        for args in [["cache", "del", &key], ["cache", "get", &key], ["cache", "ttl", &key]] {
            let out = pal(&vars, &args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
            assert!(text(&out).contains("not found"), "{args:?}: {}", text(&out));
        }
    }

    #[test]
    fn a_command_validates_only_the_providers_it_uses() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("parts.db").display());
        // CACHE_PROVIDER defaults to redis: no REDIS_URL, no sealing keys, and a bad cache variable.
        let database_only =
            [("DB_PROVIDER", "sqlite"), ("DATABASE_URL", url.as_str()), ("CACHE_MEMORY_MAX_ENTRIES", "x")];
        let commands: [&[&str]; 5] = [
            &["migrate"],
            &["db", "query", "SELECT 1 AS one"],
            &["db", "exec", "SELECT 1"],
            &["audit", "tail"],
            &["purge"],
        ];
        for args in commands {
            let out = pal(&database_only, args);
            assert_eq!(out.status.code(), Some(0), "{args:?} needs no cache configuration: {}", text(&out));
        }
        // DB_PROVIDER defaults to postgresql, with no DATABASE_URL: the memory cache needs none.
        let cache_only = [("CACHE_PROVIDER", "memory"), ("DB_POOL_MAX", "lots")];
        let out = pal(&cache_only, &["cache", "get", "k"]);
        assert_eq!(out.status.code(), Some(1), "a missing key, not a configuration error: {}", text(&out));
        // A cache that keeps data in the database brings the database's variables with it.
        let hybrid = [("CACHE_PROVIDER", "redis-hybrid"), ("REDIS_URL", "redis://127.0.0.1:1"), KEYS[0], KEYS[1]];
        let out = pal(&[&hybrid[..], &[("DB_PROVIDER", "postgresql")]].concat(), &["cache", "get", "k"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("DATABASE_URL must be set"), "{}", text(&out));
        // `pal check` checks both.
        let out = pal(&database_only, &["check"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("REDIS_URL"), "{}", text(&out));
        // The listener's variables are `pal serve`'s: a bad BIND stops it alone.
        let out = pal(&[EMBEDDED, &[("BIND", "no such host")]].concat(), &["cache", "get", "k"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let out = pal(&[EMBEDDED, &[("BIND", "no such host")]].concat(), &["serve"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("BIND=\"no such host\""), "{}", text(&out));
    }

    #[test]
    fn bind_takes_a_host_name() {
        let serve = Serve::start(&[EMBEDDED, &[("BIND", "localhost")]].concat());
        let (status, body) = http_get(serve.port, "/healthz").expect("listening on 127.0.0.1");
        assert_eq!(status, 200, "{body}");
    }

    #[test]
    fn a_check_window_must_be_longer_than_zero_and_says_so() {
        for window in ["0", "-1", "3601", "NaN"] {
            let out = pal(EMBEDDED, &["check", "--url", "http://127.0.0.1:1/metrics", "--window", window]);
            assert_eq!(out.status.code(), Some(2), "--window {window}: {}", text(&out));
            assert!(text(&out).contains("more than 0 seconds"), "--window {window}: {}", text(&out));
        }
    }

    #[test]
    fn an_unknown_variable_is_reported_once() {
        let vars = [EMBEDDED, &[("CACHE_PROVDER", "redis")]].concat();
        for args in [&["check"][..], &["check", "--json"], &["cache", "get", "k"], &["db", "query", "SELECT 1 AS a"]] {
            let out = pal(&vars, args);
            assert_eq!(text(&out).matches("CACHE_PROVDER").count(), 1, "{args:?}: {}", text(&out));
        }
    }
}
