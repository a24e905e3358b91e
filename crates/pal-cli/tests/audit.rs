//! `pal audit` as an operator runs it: log an event, read it back with filters,
//! see the spools, bad input refused; and a spool that belongs to the database it
//! was written for, whatever database the next run is configured with.

mod support;

use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::{free_port, pal_command, text};

fn pal(dir: &std::path::Path, args: &[&str]) -> Output {
    let url = format!("sqlite://{}", dir.join("pal.db").display());
    pal_command()
        .envs([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", url.as_str())])
        .env("AUDIT_SPOOL_DIR", dir.join("spool"))
        .args(args)
        .output()
        .expect("pal runs")
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
    let out = pal_command()
        .envs([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("AUDIT_OVERFLOW", "sometimes")])
        .args(["audit", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("AUDIT_OVERFLOW") && text(&out).contains("spool"), "{}", text(&out));
}

// A spool belongs to the database it was written for.

/// A test server's port (`scripts/ports.env`), as a number.
fn port(name: &str) -> u16 {
    support::port(name).parse().unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `pal` with only `vars` (and the memory cache) in its environment.
fn run(vars: &[(&str, &str)], args: &[&str]) -> Output {
    pal_command().env("CACHE_PROVIDER", "memory").envs(vars.iter().copied()).args(args).output().expect("pal runs")
}

/// What `pal audit log` and the others need to reach `url` and keep their spool in `spool`;
/// a server that is down is given up quickly.
fn audit_vars<'a>(provider: &'a str, url: &'a str, spool: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DB_PROVIDER", provider),
        ("DATABASE_URL", url),
        ("AUDIT_SPOOL_DIR", spool),
        ("AUDIT_SHUTDOWN_TIMEOUT_MS", "1500"),
        ("DB_POOL_ACQUIRE_TIMEOUT_MS", "500"),
    ]
}

/// The actions stored in `audit_log`, oldest first.
fn actions(provider: &str, url: &str) -> Vec<String> {
    let out = run(&[("DB_PROVIDER", provider), ("DATABASE_URL", url)], &["audit", "tail", "--json", "--limit", "1000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].as_str().unwrap().to_string())
        .collect()
}

/// A PostgreSQL database created (and migrated) by the test on the server at
/// `port`, dropped with it.
struct PgDatabase {
    port: u16,
    name: String,
}

impl PgDatabase {
    fn create(port: u16, name: &str) -> PgDatabase {
        let db = PgDatabase { port, name: name.to_string() };
        db.admin(&format!("CREATE DATABASE {name}"));
        let url = db.url();
        let out = run(&[("DB_PROVIDER", "postgresql"), ("DATABASE_URL", url.as_str())], &["migrate"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        db
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, self.name)
    }

    fn admin(&self, sql: &str) {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let out = run(&[("DB_PROVIDER", "postgresql"), ("DATABASE_URL", url.as_str())], &["db", "exec", sql]);
        assert_eq!(out.status.code(), Some(0), "{sql}: {}", text(&out));
    }

    fn actions(&self) -> Vec<String> {
        actions("postgresql", &self.url())
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        self.admin(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// A name no other run uses, in the shape the library's tests sweep when an
/// interrupted run left it (`pal_t_<seconds>_…`).
fn unique(what: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    format!("pal_t_{now}_{what}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// A TCP forwarder on a fixed loopback port to a server: "the server at that
/// address", which the test can take down and bring back, or put another behind.
struct Forward {
    stop: Arc<AtomicBool>,
    accepting: Option<std::thread::JoinHandle<()>>,
}

impl Forward {
    fn start(port: u16, to: u16) -> Forward {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let accepting = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        if let Ok(server) = TcpStream::connect(("127.0.0.1", to)) {
                            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                            pipe(server, client);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Forward { stop, accepting: Some(accepting) }
    }
}

/// Copies `from` to `to` until `from` ends, then ends `to`.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

/// The operator's report: `pal DATABASE_URL=…:18994/db audit log x` with that
/// server down spooled x; `pal audit log y` in the same directory with another
/// database delivered x there. Now x waits for its own database, is reported while
/// it waits, and reaches it once it is back.
#[test]
fn an_event_spooled_for_a_database_that_is_down_waits_for_it_and_reaches_only_it() {
    let pg = port("PG_PORT");
    let first = PgDatabase::create(pg, &unique("first"));
    let other = PgDatabase::create(pg, &unique("other"));
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool").display().to_string();
    // The first database, as its clients reach it: at an address that is down for now.
    let address = free_port();
    let first_url = format!("postgres://postgres@127.0.0.1:{address}/{}", first.name);
    let other_url = other.url();

    let out = run(&audit_vars("postgresql", &first_url, &spool), &["audit", "log", "x"]);
    assert_eq!(out.status.code(), Some(3), "the server is down: x could only be spooled\n{}", text(&out));

    let out = run(&audit_vars("postgresql", &other_url, &spool), &["audit", "log", "y"]);
    assert_eq!(out.status.code(), Some(0), "y itself was delivered\n{}", text(&out));
    assert_eq!(other.actions(), ["y"], "x was written for the first database");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("events in other spools of AUDIT_SPOOL_DIR").count(), 1, "warns once about x: {stderr}");
    assert!(stderr.contains("events=1"), "{stderr}");

    let out = run(&audit_vars("postgresql", &other_url, &spool), &["audit", "status"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "an event waits, for another database\n{shown}");
    let target = format!("postgresql://127.0.0.1:{address}/{}", first.name);
    assert!(
        shown.lines().any(|l| l.contains(&target) && l.contains("1 event waiting") && l.contains("another database")),
        "lists x's spool with its target: {shown}"
    );
    assert!(!shown.contains("postgres@"), "no user or credentials: {shown}");

    // The first database back at its address: the next run for it delivers x there.
    let _back = Forward::start(address, pg);
    let out = run(&audit_vars("postgresql", &first_url, &spool), &["audit", "log", "z"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(first.actions(), ["x", "z"], "x first, then z");
    assert_eq!(other.actions(), ["y"]);
    let out = run(&audit_vars("postgresql", &other_url, &spool), &["audit", "status"]);
    assert_eq!(out.status.code(), Some(0), "nothing waits\n{}", text(&out));
}

/// Another PostgreSQL cluster answering at the address of the first (a new
/// cluster, a restore elsewhere behind the same name): the events spooled for the
/// first are refused, set aside and reported, and go where the operator says.
#[test]
fn another_server_at_the_same_address_is_refused_what_was_spooled_for_the_first() {
    let name = unique("moved");
    let (first_port, second_port) = (port("PG_PORT"), port("PG_PRIMARY_PORT"));
    let first = PgDatabase::create(first_port, &name);
    let second = PgDatabase::create(second_port, &name);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool").display().to_string();
    let address = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{address}/{name}");
    let vars = audit_vars("postgresql", &url, &spool);

    let up = Forward::start(address, first_port);
    let out = run(&vars, &["audit", "log", "a1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    drop(up);
    let out = run(&vars, &["audit", "log", "a2"]);
    assert_eq!(out.status.code(), Some(3), "down: a2 waits\n{}", text(&out));

    let _other_cluster = Forward::start(address, second_port);
    let out = run(&vars, &["audit", "log", "a3"]);
    assert_eq!(out.status.code(), Some(0), "a3, taken now, goes to the database there now\n{}", text(&out));
    assert_eq!(second.actions(), ["a3"], "a2 was written for the first cluster");
    assert_eq!(first.actions(), ["a1"]);

    let out = run(&vars, &["audit", "status"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let aside = shown
        .lines()
        .find(|l| l.contains("set aside") && l.contains("1 event waiting"))
        .unwrap_or_else(|| panic!("a2 is reported: {shown}"));
    let file = aside.trim().split(':').next().unwrap().to_string();

    // The operator delivers it to the first cluster, naming it.
    let direct = first.url();
    let out = run(&audit_vars("postgresql", &direct, &spool), &["audit", "adopt", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(first.actions(), ["a1", "a2"]);
    assert_eq!(second.actions(), ["a3"]);
    assert!(!dir.path().join("spool").join(&file).exists(), "the adopted spool is gone");
}

/// The SQLite file replaced by a new one at the same path: the event spooled for
/// the old file is refused by the new one and reported; adopted, it reaches the
/// old file.
#[test]
fn a_new_sqlite_file_at_the_same_path_is_refused_what_was_spooled_for_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool").display().to_string();
    let url = format!("sqlite://{}", dir.path().join("db/pal.db").display());
    let old_url = format!("sqlite://{}", dir.path().join("db-old/pal.db").display());
    std::fs::create_dir(dir.path().join("db")).unwrap();
    let vars = audit_vars("sqlite", &url, &spool);

    assert_eq!(run(&vars, &["audit", "log", "s1"]).status.code(), Some(0));
    // The file goes away with its directory: nothing can be opened there.
    std::fs::rename(dir.path().join("db"), dir.path().join("db-old")).unwrap();
    let mut down = vars.clone();
    down.push(("DB_AUTO_MIGRATE", "false"));
    let out = run(&down, &["audit", "log", "s2"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // A new, empty database file at the same path.
    std::fs::create_dir(dir.path().join("db")).unwrap();
    let out = run(&vars, &["audit", "log", "s3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(actions("sqlite", &url), ["s3"], "s2 was written for the old file");
    assert_eq!(actions("sqlite", &old_url), ["s1"]);

    let out = run(&vars, &["audit", "status"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let aside = shown.lines().find(|l| l.contains("set aside")).unwrap_or_else(|| panic!("reported: {shown}"));
    assert!(aside.contains("1 event waiting") && aside.contains("inode"), "{aside}");
    let file = aside.trim().split(':').next().unwrap().to_string();

    let out = run(&audit_vars("sqlite", &old_url, &spool), &["audit", "adopt", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(actions("sqlite", &old_url), ["s1", "s2"]);
    assert_eq!(run(&vars, &["audit", "status"]).status.code(), Some(0));
}

/// A spool from before spools were bound (`audit-spool.db`) is delivered to no
/// database by itself: it is reported, and `pal audit adopt` delivers it to the one
/// the operator configures.
#[test]
fn a_spool_from_before_binding_is_reported_and_delivered_only_where_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    std::fs::create_dir(&spool_dir).unwrap();
    let legacy = format!("sqlite://{}", spool_dir.join("audit-spool.db").display());
    let event = serde_json::json!({
        "id": uuid::Uuid::new_v4(), "occurred_at": "2026-11-26T10:00:00Z", "actor": "alice",
        "action": "legacy", "ip": null, "details": null
    });
    let legacy_vars = [("DB_PROVIDER", "sqlite"), ("DATABASE_URL", legacy.as_str()), ("DB_AUTO_MIGRATE", "false")];
    let event = format!("text:{event}");
    for args in [
        &["db", "exec", "CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)"][..],
        &["db", "exec", "INSERT INTO spool (event) VALUES ($1)", &event][..],
    ] {
        let out = run(&legacy_vars, args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let spool = spool_dir.display().to_string();
    let url = format!("sqlite://{}", dir.path().join("pal.db").display());
    let vars = audit_vars("sqlite", &url, &spool);

    let out = run(&vars, &["audit", "log", "new"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(actions("sqlite", &url), ["new"], "the unbound spool went nowhere by itself");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("events in other spools of AUDIT_SPOOL_DIR").count(), 1, "{stderr}");
    let out = run(&vars, &["audit", "status"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.lines().any(|l| l.contains("audit-spool.db: 1 event waiting")
            && l.contains("before spools were bound")
            && l.contains("pal audit adopt audit-spool.db")),
        "{shown}"
    );

    let out = run(&vars, &["audit", "adopt", "audit-spool.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(actions("sqlite", &url), ["legacy", "new"], "by the time it happened");
    assert!(!spool_dir.join("audit-spool.db").exists());
    assert_eq!(run(&vars, &["audit", "status"]).status.code(), Some(0));
}
