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
    assert!(!db.migrate().await.unwrap().is_empty(), "a new database gets the schema");
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
    db.migrate().await.unwrap();
    db.execute(
        "INSERT INTO users (id, email, verified, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        &["u1".into(), "a@example.com".into(), true.into(), chrono::Utc::now().into()],
    )
    .await
    .unwrap();
    let rows = db.query("SELECT email, verified FROM users", &[]).await.unwrap();
    assert!(rows[0].get::<bool>("verified").unwrap());
}
