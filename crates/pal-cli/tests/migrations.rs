//! `pal migrate` run by several processes at once, as several instances of a
//! service starting together would: every one succeeds and the schema is applied
//! exactly once, on every database.

mod support;

use std::process::Output;

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
    let db = support::servers::database(provider, url, &[]).await;
    let expected = pal::db::migrate::migrations(db.dialect()).len();
    let rows = db.query("SELECT version FROM pal_migrations ORDER BY version", &[]).await.unwrap();
    assert_eq!(rows.len(), expected, "{provider}: every migration recorded once");
    applied.sort();
    let before = applied.len();
    applied.dedup();
    assert_eq!(before, applied.len(), "{provider}: a migration was applied by two processes: {applied:?}");
    assert_eq!(applied.len(), expected, "{provider}: each migration applied by exactly one process");
    assert!(pal::db::migrate::pending(db.as_ref()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_migrate_postgresql_at_once() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    check("postgresql", &url).await;
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_migrate_mariadb_at_once() {
    let (url, teardown) = support::servers::fresh_mariadb_database().await;
    check("mysql", &url).await;
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_migrate_sqlite_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("migrate.db").display());
    check("sqlite", &url).await;
}
