//! `pal migrate` run by several processes at once, as several instances of a
//! service starting together would: every one succeeds and the schema is applied
//! exactly once, on every database. And `pal migrate` applying the schema once,
//! and `DB_AUTO_MIGRATE=true` applying it at start, on PostgreSQL (also as
//! cockroachdb) and MariaDB.

mod support;

use std::process::Output;

use support::servers;

fn migrate_together(provider: &str, url: &str) -> Vec<Output> {
    let children: Vec<_> = (0..4)
        .map(|_| {
            support::pal_command()
                .envs([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)])
                .arg("migrate")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

async fn check(provider: &str, url: &str) {
    let outputs = tokio::task::spawn_blocking({
        let (provider, url) = (provider.to_string(), url.to_string());
        move || migrate_together(&provider, &url)
    })
    .await
    .unwrap();
    let mut applied = Vec::new();
    for out in &outputs {
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{provider}: {text}");
        applied.extend(text.lines().filter_map(|l| l.split("applied ").nth(1)).map(str::to_string));
    }
    let db = servers::database(provider, url, &[]).await;
    // `pal migrate` reads only the database's variables: it prepares for any cache.
    let tables = pal_service::schema::pal_tables(true);
    let service = pal_service::schema::migrations(db.dialect());
    let expected = pal::db::migrate::migrations(db.as_ref(), &tables).len() + service.len();
    let rows = db.query("SELECT version FROM pal_migrations ORDER BY version", &[]).await.unwrap();
    let app_rows = db.query("SELECT version FROM pal_app_migrations WHERE app = $1", &["pal-service".into()]).await;
    assert_eq!(rows.len() + app_rows.unwrap().len(), expected, "{provider}: every migration recorded once");
    applied.sort();
    let before = applied.len();
    applied.dedup();
    assert_eq!(before, applied.len(), "{provider}: a migration was applied by two processes: {applied:?}");
    assert_eq!(applied.len(), expected, "{provider}: each migration applied by exactly one process");
    assert!(pal_service::schema::pending(db.as_ref(), true).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_migrate_postgresql_at_once() {
    let (url, teardown) = servers::fresh_postgres_schema().await;
    check("postgresql", &url).await;
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_migrate_mariadb_at_once() {
    let (url, teardown) = servers::fresh_mariadb_database().await;
    check("mysql", &url).await;
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_migrate_sqlite_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("migrate.db").display());
    check("sqlite", &url).await;
}

/// Runs the `pal` binary with only these variables set.
fn pal(vars: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let out = support::pal_command().envs(vars.iter().copied()).args(args).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `pal migrate` applies the schema once; with `DB_AUTO_MIGRATE=true` any command
/// applies it at start, and without it nothing does.
fn cli_migrations(provider: &str, explicit_url: &str, auto_url: &str) {
    let vars = |url| [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)];
    let (code, out) = pal(&vars(explicit_url), &["migrate"]);
    assert_eq!(code, Some(0), "{out}");
    for name in ["0101_cache", "0201_audit", "0001_users"] {
        assert!(out.contains(&format!("applied {name}")), "{out}");
    }
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

mod postgres {
    use super::*;

    /// `pal migrate` applies the schema once, and `DB_AUTO_MIGRATE=true` applies it at start.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cli_migrates_explicitly_and_at_start() {
        for provider in ["postgresql", "cockroachdb"] {
            let (explicit, drop_explicit) = servers::fresh_postgres_schema().await;
            let (auto, drop_auto) = servers::fresh_postgres_schema().await;
            tokio::task::spawn_blocking(move || cli_migrations(provider, &explicit, &auto)).await.unwrap();
            drop_explicit.await;
            drop_auto.await;
        }
    }
}

mod mysql {
    use super::*;

    /// `pal migrate` applies the schema once, and `DB_AUTO_MIGRATE=true` applies it at start.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cli_migrates_explicitly_and_at_start() {
        let (explicit, drop_explicit) = servers::fresh_mariadb_database().await;
        let (auto, drop_auto) = servers::fresh_mariadb_database().await;
        tokio::task::spawn_blocking(move || cli_migrations("mysql", &explicit, &auto)).await.unwrap();
        drop_explicit.await;
        drop_auto.await;
    }
}
