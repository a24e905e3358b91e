//! The real database servers the tests use, and a place per test on them: each
//! test gets its own PostgreSQL schema or MariaDB database, so runs never collide.
//! Every address here is on loopback; `scripts/services` starts these servers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pal::factory::build_database;
use pal::{DatabaseService, Settings};

use crate::port;
pub use crate::services;

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

/// The shared MariaDB; see [`postgres`].
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

/// The MariaDB that only the fault tests stop and start.
pub fn mariadb_fault() -> String {
    mariadb_on("MARIADB_FAULT_PORT")
}

/// Replicated pairs, each a primary and a replica of it that tests may stop and start
/// alone (`scripts/services`: pg_replication with pg_replica, a streaming replica;
/// mariadb_replication with mariadb_replica, GTID replication).
pub fn pg_primary() -> String {
    postgres_on("PG_PRIMARY_PORT")
}

/// The replica of [`pg_primary`].
pub fn pg_replica() -> String {
    postgres_on("PG_REPLICA_PORT")
}

/// The MariaDB primary of a replicated pair.
pub fn mariadb_primary() -> String {
    mariadb_on("MARIADB_PRIMARY_PORT")
}

/// The replica of [`mariadb_primary`].
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

/// What drops a schema or database a test made.
pub type Teardown = futures::future::BoxFuture<'static, ()>;

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

/// Starts a dedicated server again when dropped, even when an assertion failed half-way.
pub struct Restart(pub &'static str);

impl Drop for Restart {
    fn drop(&mut self) {
        services("start", self.0);
    }
}
