//! The SQLite database, built through the factory from environment-style settings.

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_database;
use suite::db::DbSubject;

async fn sqlite() -> DbSubject {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pal.db").display());
    let settings =
        Settings::from_vars([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", &url)]).unwrap();
    let db = build_database(&settings).await.unwrap();
    assert_eq!(db.provider(), "sqlite");
    assert!(!db.migrate(pal::db::migrate::Tables::ALL).await.unwrap().is_empty(), "a new database gets the schema");
    DbSubject { db, guard: Some(Box::new(dir)), teardown: None }
}

db_conformance!(sqlite);

#[tokio::test]
async fn in_memory_database_survives_idle_pool() {
    let settings = Settings::from_vars([
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
    ])
    .unwrap();
    let db = build_database(&settings).await.unwrap();
    db.execute("CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL, verified BOOLEAN NOT NULL)", &[])
        .await
        .unwrap();
    db.execute(
        "INSERT INTO users (id, email, verified) VALUES ($1, $2, $3)",
        &["u1".into(), "a@example.com".into(), true.into()],
    )
    .await
    .unwrap();
    let rows = db.query("SELECT email, verified FROM users", &[]).await.unwrap();
    assert!(rows[0].get::<bool>("verified").unwrap());
}

/// Reads use connections of their own in `query_only` mode: on an in-memory
/// database they open the same database, so they see its writes, and still
/// cannot write to it.
#[tokio::test]
async fn reads_of_an_in_memory_database_see_its_writes_and_cannot_write() {
    let settings = Settings::from_vars([
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
    ])
    .unwrap();
    let db = build_database(&settings).await.unwrap();
    db.execute("CREATE TABLE t (v INTEGER)", &[]).await.unwrap();
    db.execute("INSERT INTO t (v) VALUES (7)", &[]).await.unwrap();
    let rows = db.read("SELECT v FROM t", &[], None).await.unwrap();
    assert_eq!(rows[0].get::<i64>("v").unwrap(), 7);
    let err = db.read("INSERT INTO t (v) VALUES (8)", &[], None).await.unwrap_err();
    assert_eq!(err.kind(), pal::ErrorKind::ReadOnly, "{err}");
    assert_eq!(db.query("SELECT COUNT(*) AS n FROM t", &[]).await.unwrap()[0].get::<i64>("n").unwrap(), 1);
}
