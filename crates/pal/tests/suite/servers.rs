//! The real servers the database tests use, and a subject per test on them: each
//! test gets its own PostgreSQL schema or MariaDB database, so runs never collide.
//! Every address here is on loopback; `scripts/services` starts these servers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pal::factory::build_database;
use pal::{DatabaseService, Settings};

use crate::suite::db::DbSubject;

use crate::support::port;

fn postgres_on(port_name: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{}/postgres", port(port_name))
}

fn mariadb_on(port_name: &str) -> String {
    format!("mysql://root@127.0.0.1:{}", port(port_name))
}

/// The servers the conformance tests share, each test in a schema or database of its
/// own (`scripts/services`: postgres, mariadb; or, with PAL_TEST_MACHINE_SERVERS=1,
/// the machine's own).
pub fn postgres() -> String {
    postgres_on("PG_PORT")
}

pub fn mariadb() -> String {
    mariadb_on("MARIADB_PORT")
}

/// Dedicated instances that only the fault tests stop and start
/// (`scripts/services`: postgres_fault, mariadb_fault). The PostgreSQL one checks
/// passwords, so it also serves the wrong-password tests.
pub fn postgres_fault() -> String {
    format!("postgres://pal:{}@127.0.0.1:{}/postgres", port("PG_FAULT_PASSWORD"), port("PG_FAULT_PORT"))
}

/// `postgres_fault()` with another password.
pub fn postgres_fault_with_password(password: &str) -> String {
    format!("postgres://pal:{password}@127.0.0.1:{}/postgres", port("PG_FAULT_PORT"))
}

pub fn mariadb_fault() -> String {
    mariadb_on("MARIADB_FAULT_PORT")
}

/// Replicated pairs, each a primary and a replica of it that tests may stop and start
/// alone (`scripts/services`: pg_replication with pg_replica, a streaming replica;
/// mariadb_replication with mariadb_replica, GTID replication).
pub fn pg_primary() -> String {
    postgres_on("PG_PRIMARY_PORT")
}

pub fn pg_replica() -> String {
    postgres_on("PG_REPLICA_PORT")
}

pub fn mariadb_primary() -> String {
    mariadb_on("MARIADB_PRIMARY_PORT")
}

pub fn mariadb_replica() -> String {
    mariadb_on("MARIADB_REPLICA_PORT")
}

/// Schemas and databases the tests create start with this; ones older than an hour
/// are leftovers of interrupted runs and are swept.
const PREFIX: &str = "pal_t_";
const SWEEP_AFTER_SECS: u64 = 3600;

/// Builds a database through the factory, as an application would.
pub async fn database(provider: &str, url: &str, extra: &[(&str, &str)]) -> Arc<dyn DatabaseService> {
    let mut vars = vec![("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)];
    vars.extend_from_slice(extra);
    let settings = Settings::from_vars(vars).unwrap_or_else(|e| panic!("{e}"));
    let db = build_database(&settings).await.unwrap();
    assert_eq!(db.provider(), provider);
    db
}

fn unique_name() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    format!("{PREFIX}{now}_{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn is_stale(name: &str) -> bool {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let created = name.strip_prefix(PREFIX).and_then(|rest| rest.split('_').next()).and_then(|t| t.parse::<u64>().ok());
    created.is_some_and(|t| t + SWEEP_AFTER_SECS < now)
}

type Teardown = futures::future::BoxFuture<'static, ()>;

/// An empty schema of its own on the shared PostgreSQL server: its URL, and what drops it.
pub async fn fresh_postgres_schema() -> (String, Teardown) {
    let admin = database("postgresql", &postgres(), &[("DB_POOL_MAX", "1")]).await;
    let rows =
        admin.query("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'pal\\_t\\_%'", &[]).await.unwrap();
    for name in rows.iter().map(|r| r.get::<String>("n").unwrap()).filter(|n| is_stale(n)) {
        let _ = admin.execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"), &[]).await;
    }
    let schema = unique_name();
    admin.execute(&format!("CREATE SCHEMA {schema}"), &[]).await.unwrap();
    let url = format!("{}?options=-c%20search_path%3D{schema}", postgres());
    let teardown = async move {
        let _ = admin.execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), &[]).await;
    };
    (url, Box::pin(teardown))
}

/// Drops a schema of the shared PostgreSQL server when dropped: for subjects that
/// have no place to await a teardown (the cache suite's). It connects afresh on a
/// runtime of its own, since the test's runtime may be gone by then.
pub struct SchemaGuard(String);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let schema = self.0.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let admin = database("postgresql", &postgres(), &[("DB_POOL_MAX", "1")]).await;
                admin.execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), &[]).await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(_))) {
            eprintln!("schema {} was not dropped; it is swept after an hour", self.0);
        }
    }
}

/// An empty schema of its own on the shared PostgreSQL server, dropped with the guard.
pub async fn guarded_postgres_schema() -> (String, SchemaGuard) {
    let (url, teardown) = fresh_postgres_schema().await;
    // The teardown future is replaced by the guard, which drops the same schema.
    drop(teardown);
    let schema = url.rsplit("search_path%3D").next().unwrap_or_default().to_string();
    (url, SchemaGuard(schema))
}

/// An empty database of its own on the shared MariaDB server: its URL, and what drops it.
pub async fn fresh_mariadb_database() -> (String, Teardown) {
    let admin = database("mysql", &mariadb(), &[("DB_POOL_MAX", "1")]).await;
    let rows = admin.query("SHOW DATABASES LIKE 'pal\\_t\\_%'", &[]).await.unwrap();
    for name in rows.iter().map(|r| r.values()[0].to_string()).filter(|n| is_stale(n)) {
        let _ = admin.execute(&format!("DROP DATABASE IF EXISTS {name}"), &[]).await;
    }
    let name = unique_name();
    admin.execute(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"), &[]).await.unwrap();
    let url = format!("{}/{name}", mariadb());
    let teardown = async move {
        let _ = admin.execute(&format!("DROP DATABASE IF EXISTS {name}"), &[]).await;
    };
    (url, Box::pin(teardown))
}

/// A migrated `provider` database (postgresql or cockroachdb) in a schema of its own
/// on the shared PostgreSQL server.
pub async fn postgres_subject(provider: &str, extra: &[(&str, &str)]) -> DbSubject {
    let (url, teardown) = fresh_postgres_schema().await;
    migrated_subject(provider, &url, extra, teardown).await
}

/// A migrated MySQL-provider database of its own on the shared MariaDB server.
pub async fn mariadb_subject(extra: &[(&str, &str)]) -> DbSubject {
    let (url, teardown) = fresh_mariadb_database().await;
    migrated_subject("mysql", &url, extra, teardown).await
}

async fn migrated_subject(provider: &str, url: &str, extra: &[(&str, &str)], teardown: Teardown) -> DbSubject {
    let db = database(provider, url, extra).await;
    assert!(!db.migrate().await.unwrap().is_empty(), "a new schema gets the migrations");
    DbSubject { db, guard: None, teardown: Some(teardown) }
}

/// Runs the `pal` binary with only these variables set.
pub fn pal(vars: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let out = crate::support::pal_command().envs(vars.iter().copied()).args(args).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `pal migrate` applies the schema once; with `DB_AUTO_MIGRATE=true` any command
/// applies it at start, and without it nothing does.
pub fn cli_migrations(provider: &str, explicit_url: &str, auto_url: &str) {
    let vars = |url| [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)];
    let (code, out) = pal(&vars(explicit_url), &["migrate"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied 0001_initial"), "{out}");
    let (_, out) = pal(&vars(explicit_url), &["migrate"]);
    assert!(out.contains("up to date"), "{out}");

    let count = ["db", "query", "SELECT COUNT(*) AS n FROM users", "--json"];
    let (code, out) = pal(&vars(auto_url), &count);
    assert_eq!(code, Some(3), "without DB_AUTO_MIGRATE nothing is applied: {out}");
    assert!(out.contains("no such table"), "{out}");
    let auto = [&vars(auto_url)[..], &[("DB_AUTO_MIGRATE", "true")]].concat();
    let (code, out) = pal(&auto, &count);
    assert_eq!((code, out.trim()), (Some(0), r#"{"n":0}"#), "{out}");
}

/// Holds a dedicated server for one test at a time, across test processes, with an
/// advisory file lock: the fault tests stop and start the servers they hold.
pub struct Exclusive(#[allow(unused)] std::fs::File);

pub fn exclusive(server: &str) -> Exclusive {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{server}.lock"));
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    file.lock().unwrap();
    Exclusive(file)
}

/// Starts a dedicated server again when dropped, even when an assertion failed half-way.
pub struct Restart(pub &'static str);

impl Drop for Restart {
    fn drop(&mut self) {
        services("start", self.0);
    }
}

/// Runs `scripts/services ACTION NAME` (start or stop one dedicated server).
pub fn services(action: &str, name: &str) {
    let script = crate::support::root().join("scripts/services");
    let status = std::process::Command::new(script).args([action, name]).status().unwrap();
    assert!(status.success(), "scripts/services {action} {name} failed");
}

/// Two transactions that lock two rows in opposite orders: the server breaks the
/// deadlock by aborting one, which pal reports as a serialization failure (and the
/// closure API would retry).
pub async fn deadlock_is_a_serialization_failure(db: &Arc<dyn DatabaseService>) {
    db.execute("CREATE TABLE locks (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)", &[]).await.unwrap();
    db.execute("INSERT INTO locks (id, n) VALUES (1, 0), (2, 0)", &[]).await.unwrap();
    let update = "UPDATE locks SET n = n + 1 WHERE id = $1";
    let mut first = db.begin().await.unwrap();
    let mut second = db.begin().await.unwrap();
    first.execute(update, &[1.into()]).await.unwrap();
    second.execute(update, &[2.into()]).await.unwrap();
    let blocked = tokio::spawn(async move {
        let result = first.execute(update, &[2.into()]).await;
        (result, first)
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let closing = second.execute(update, &[1.into()]).await;
    let (blocked_result, first) = blocked.await.unwrap();
    let kinds: Vec<_> = [&blocked_result, &closing].iter().filter_map(|r| r.as_ref().err().map(|e| e.kind())).collect();
    assert_eq!(kinds, [pal::ErrorKind::SerializationFailure], "{blocked_result:?} {closing:?}");
    let _ = first.rollback().await;
    let _ = second.rollback().await;
}
