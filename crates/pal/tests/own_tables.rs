//! pal's tables beside an application's own, on every dialect: a database that
//! already has tables named `users`, `sessions` and `audit_log` (the application's,
//! with other columns) gets pal's `pal_…` tables and keeps its own untouched; each
//! part creates only its own tables; and a database that holds pal's legacy
//! layout (unprefixed names) is renamed in place, its rows kept, freeing the names.

use std::sync::Arc;

use chrono::Utc;
use pal::db::migrate::Tables;
use pal::db::placeholders::split_statements;
use pal::db::{Dialect, Value};
use pal::{DatabaseService, ErrorKind};
use pal_test_support::servers;

/// Tables of the application's own, with the names pal once used and columns of
/// its own, and their rows.
const APP_SCHEMA: &[&str] = &[
    "CREATE TABLE users (uid BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL)",
    "CREATE TABLE sessions (token VARCHAR(64) PRIMARY KEY, user_id BIGINT NOT NULL, note VARCHAR(100))",
    "CREATE INDEX sessions_expires_at ON sessions (user_id)",
    "CREATE TABLE audit_log (entry VARCHAR(100) NOT NULL, at_ms BIGINT NOT NULL)",
    "INSERT INTO users (uid, name) VALUES (1, 'ana'), (2, 'bo')",
    "INSERT INTO sessions (token, user_id, note) VALUES ('t1', 1, NULL), ('t2', 2, 'x')",
    "INSERT INTO audit_log (entry, at_ms) VALUES ('opened', 17), ('closed', 18)",
];

const APP_TABLES: [(&str, &str); 3] = [("users", "uid"), ("sessions", "token"), ("audit_log", "entry")];

/// A table's columns as the catalog describes them, and its rows.
async fn snapshot(db: &Arc<dyn DatabaseService>, table: &str, order: &str) -> (serde_json::Value, serde_json::Value) {
    let columns = match db.dialect() {
        Dialect::Postgres => {
            "SELECT column_name AS name, data_type AS type, is_nullable AS nullable FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
        Dialect::MySql => {
            "SELECT column_name AS name, column_type AS type, is_nullable AS nullable FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = $1 ORDER BY ordinal_position"
        }
        Dialect::Sqlite => "SELECT name, type, \"notnull\" AS nullable FROM pragma_table_info($1) ORDER BY cid",
    };
    let columns = db.query(columns, &[table.into()]).await.unwrap();
    assert!(!columns.is_empty(), "{table} has columns");
    let rows = db.query(&format!("SELECT * FROM {table} ORDER BY {order}"), &[]).await.unwrap();
    let json = |rows: Vec<pal::db::Row>| serde_json::Value::Array(rows.iter().map(|r| r.to_json()).collect());
    (json(columns), json(rows))
}

async fn app_snapshot(db: &Arc<dyn DatabaseService>) -> Vec<(serde_json::Value, serde_json::Value)> {
    let mut all = Vec::new();
    for (table, order) in APP_TABLES {
        all.push(snapshot(db, table, order).await);
    }
    all
}

async fn missing(db: &Arc<dyn DatabaseService>, table: &str) -> bool {
    match db.query(&format!("SELECT COUNT(*) AS n FROM {table}"), &[]).await {
        Ok(_) => false,
        Err(e) if e.kind() == ErrorKind::UndefinedObject => true,
        Err(e) => panic!("{table}: {e}"),
    }
}

/// Uses pal's tables: a durable session and an audit event.
async fn use_pal_tables(db: &Arc<dyn DatabaseService>) {
    use pal::audit::{AuditEvent, AuditSink, SqlAuditSink};
    use pal::expiring::{ExpiringStore, SqlExpiringStore};
    let store = SqlExpiringStore::new(db.clone());
    store.upsert("session:1", b"pal's", Utc::now() + chrono::Duration::seconds(60)).await.unwrap();
    assert_eq!(&store.get("session:1").await.unwrap().unwrap().data[..], b"pal's");
    SqlAuditSink::new(db.clone()).insert_batch(&[AuditEvent::new("own_tables.check")]).await.unwrap();
}

async fn beside_the_applications_tables(db: Arc<dyn DatabaseService>) {
    for statement in APP_SCHEMA {
        db.execute(statement, &[]).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let before = app_snapshot(&db).await;

    let applied = db.migrate(&[Tables::Cache]).await.unwrap();
    assert_eq!(applied, ["0101_cache"], "a new database gets only the part asked for");
    assert!(missing(&db, "pal_audit_log").await, "the audit log's table waits until the audit log is used");
    assert_eq!(db.migrate(&[Tables::Audit, Tables::Cache]).await.unwrap(), ["0201_audit"]);
    assert!(db.migrate(Tables::ALL).await.unwrap().is_empty());
    for table in Tables::ALL.iter().flat_map(|t| t.names()) {
        assert!(!missing(&db, table).await, "{table} exists");
    }
    use_pal_tables(&db).await;
    assert_eq!(app_snapshot(&db).await, before, "the application's tables are untouched, schema and rows");
}

/// Brings a new database to pal's last legacy layout, as an older release left it.
async fn legacy_layout(db: &Arc<dyn DatabaseService>) {
    let grammar = db.grammar();
    db.execute(grammar.ledger_ddl(), &[]).await.unwrap();
    for migration in &grammar.legacy_migrations()[..4] {
        for statement in split_statements(migration.sql, grammar.lexis()).unwrap() {
            db.execute(statement, &[]).await.unwrap_or_else(|e| panic!("{}: {e}", migration.name));
        }
        let record = "INSERT INTO pal_migrations (version, name, applied_at) VALUES ($1, $2, $3)";
        db.execute(record, &[migration.version.into(), migration.name.into(), Utc::now().into()]).await.unwrap();
    }
    let later = Utc::now() + chrono::Duration::seconds(600);
    let rows: [(&str, Vec<Value>); 5] = [
        (
            "INSERT INTO sessions (id, data, expires_at, updated_at) VALUES ($1, $2, $3, $4)",
            vec!["legacy:1".into(), Value::Bytes(b"kept".to_vec()), later.into(), Utc::now().into()],
        ),
        (
            "INSERT INTO cache_counters (cache_key, value, expires_at) VALUES ($1, $2, $3)",
            vec!["hits".into(), 41i64.into(), later.into()],
        ),
        (
            "INSERT INTO cache_journal (cache_key, recorded_at) VALUES ($1, $2)",
            vec!["changed".into(), Utc::now().into()],
        ),
        (
            "INSERT INTO audit_log (id, occurred_at, actor, action, ip, details) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                "6f1c1a8e-1111-4c2b-9a5e-0a1b2c3d4e5f".into(),
                Utc::now().into(),
                Value::Null,
                "legacy.event".into(),
                Value::Null,
                serde_json::json!({}).into(),
            ],
        ),
        (
            "INSERT INTO users (id, email, verified, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            vec!["u1".into(), "ana@x.io".into(), true.into(), Utc::now().into()],
        ),
    ];
    for (sql, params) in rows {
        db.execute(sql, &params).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn count(db: &Arc<dyn DatabaseService>, sql: &str) -> i64 {
    db.query(sql, &[]).await.unwrap()[0].get::<i64>("n").unwrap()
}

async fn the_legacy_layout_is_renamed(db: Arc<dyn DatabaseService>) {
    legacy_layout(&db).await;
    // Asked only for the audit log's tables: the legacy layout is renamed whole.
    let applied = db.migrate(&[Tables::Audit]).await.unwrap();
    assert_eq!(applied, ["0005_pal_prefix", "0201_audit"]);
    assert_eq!(db.migrate(&[Tables::Cache]).await.unwrap(), ["0101_cache"]);
    assert!(db.migrate(Tables::ALL).await.unwrap().is_empty());
    for old in ["sessions", "audit_log", "cache_counters", "cache_journal"] {
        assert!(missing(&db, old).await, "{old} was renamed");
    }
    let kept = [
        "SELECT COUNT(*) AS n FROM pal_sessions WHERE id = 'legacy:1'",
        "SELECT COUNT(*) AS n FROM pal_cache_counters WHERE cache_key = 'hits' AND value = 41",
        "SELECT COUNT(*) AS n FROM pal_cache_journal WHERE cache_key = 'changed'",
        "SELECT COUNT(*) AS n FROM pal_audit_log WHERE action = 'legacy.event'",
        "SELECT COUNT(*) AS n FROM users WHERE id = 'u1'",
    ];
    for sql in kept {
        assert_eq!(count(&db, sql).await, 1, "{sql}");
    }
    use_pal_tables(&db).await;
    // The names are free: the application can now make its own tables and
    // indexes under them (PostgreSQL's index names are schema-wide).
    for statement in &APP_SCHEMA[1..4] {
        db.execute(statement, &[]).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

mod sqlite {
    use super::*;

    async fn fresh() -> (Arc<dyn DatabaseService>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("app.db").display());
        (servers::database("sqlite", &url, &[]).await, dir)
    }

    #[tokio::test]
    async fn pal_tables_beside_the_applications_own() {
        let (db, _dir) = fresh().await;
        beside_the_applications_tables(db).await;
    }

    #[tokio::test]
    async fn legacy_tables_are_renamed() {
        let (db, _dir) = fresh().await;
        the_legacy_layout_is_renamed(db).await;
    }
}

mod postgresql {
    use super::*;

    async fn run(provider: &str, case: fn(Arc<dyn DatabaseService>) -> futures::future::BoxFuture<'static, ()>) {
        let (url, teardown) = servers::fresh_postgres_schema().await;
        case(servers::database(provider, &url, &[]).await).await;
        teardown.await;
    }

    #[tokio::test]
    async fn pal_tables_beside_the_applications_own() {
        run("postgresql", |db| Box::pin(beside_the_applications_tables(db))).await;
    }

    #[tokio::test]
    async fn legacy_tables_are_renamed() {
        run("postgresql", |db| Box::pin(the_legacy_layout_is_renamed(db))).await;
    }

    /// The cockroachdb provider, on PostgreSQL: its schema changes run outside
    /// transactions, statement by statement.
    #[tokio::test]
    async fn cockroachdb_provider_beside_the_applications_own() {
        run("cockroachdb", |db| Box::pin(beside_the_applications_tables(db))).await;
    }

    #[tokio::test]
    async fn cockroachdb_provider_renames_legacy_tables() {
        run("cockroachdb", |db| Box::pin(the_legacy_layout_is_renamed(db))).await;
    }
}

mod mysql {
    use super::*;

    async fn run(case: fn(Arc<dyn DatabaseService>) -> futures::future::BoxFuture<'static, ()>) {
        let (url, teardown) = servers::fresh_mariadb_database().await;
        case(servers::database("mysql", &url, &[]).await).await;
        teardown.await;
    }

    #[tokio::test]
    async fn pal_tables_beside_the_applications_own() {
        run(|db| Box::pin(beside_the_applications_tables(db))).await;
    }

    #[tokio::test]
    async fn legacy_tables_are_renamed() {
        run(|db| Box::pin(the_legacy_layout_is_renamed(db))).await;
    }
}
