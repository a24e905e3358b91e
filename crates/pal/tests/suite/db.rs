use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};
use pal::audit::{AuditEvent, AuditSink, SqlAuditSink};
use pal::db::migrate::MigrateApp;
use pal::db::{Dialect, Value};
use pal::expiring::{ExpiringStore, SqlExpiringStore};
use pal::{DatabaseService, DatabaseServiceExt, ErrorKind};

use super::namespace;

mod app_migrations;
mod exact;
mod typed;

// Used through `db_conformance!`, which not every test crate invokes.
#[allow(unused_imports)]
pub(crate) use app_migrations::application_migrations_apply_once_in_order;
#[allow(unused_imports)]
pub(crate) use exact::{decimals_read_exactly, the_read_path_never_writes};
#[allow(unused_imports)]
pub(crate) use typed::typed_rows_decode_into_structs;

/// A migrated database under test.
pub(crate) struct DbSubject {
    pub db: Arc<dyn DatabaseService>,
    /// Keeps whatever backs the database (a temporary file) alive.
    pub guard: Option<Box<dyn std::any::Any + Send>>,
    /// Removes what the subject created on a shared server (a schema, a database).
    pub teardown: Option<futures::future::BoxFuture<'static, ()>>,
}

impl DbSubject {
    pub(crate) async fn finish(mut self) {
        if let Some(teardown) = self.teardown.take() {
            teardown.await;
        }
    }
}

/// Expands to one test per case of the database suite, each run against a subject
/// built by `$subject`.
#[macro_export]
macro_rules! db_conformance {
    ($subject:path) => {
        $crate::db_conformance!(@cases $subject;
            placeholders_leave_literals_alone, placeholder_count_is_checked, every_value_type_round_trips,
            transaction_commit, transaction_rollback, closure_transaction_rolls_back_on_error,
            unique_violation_kind, syntax_error_kind, injection_strings_are_data, session_store_expiry,
            session_store_upsert_and_delete, audit_batch_is_idempotent, audit_batch_of_ten_thousand,
            migrate_is_idempotent, concurrent_writers, aggregates_and_text_parameters,
            keys_and_emails_compare_byte_exactly, one_statement_per_call, floats_without_a_number,
            rows_stream_one_at_a_time, the_read_path_never_writes, decimals_read_exactly,
            typed_rows_decode_into_structs, application_migrations_apply_once_in_order);
    };
    (@cases $subject:path; $($case:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            let subject = $subject().await;
            $crate::suite::db::$case(&subject).await;
            subject.finish().await;
        }
    )*};
}

/// The reference service's migrations (its `users` table), run here through the
/// runner for application migrations.
pub(crate) fn service_migrations(dialect: Dialect) -> &'static [pal::db::migrate::Migration] {
    match dialect {
        Dialect::Postgres => pal::migrations!("../../../pal-service/migrations/postgres", 1 "0001_users"),
        Dialect::MySql => pal::migrations!("../../../pal-service/migrations/mysql", 1 "0001_users"),
        Dialect::Sqlite => pal::migrations!("../../../pal-service/migrations/sqlite", 1 "0001_users"),
    }
}

/// A table name unique to this test.
pub(crate) fn table(prefix: &str) -> String {
    format!("{prefix}_{}", &namespace()[1..13])
}

/// Column types for each `Value` kind, in the order of `every_value_type_round_trips`.
fn column_types(dialect: Dialect) -> [&'static str; 7] {
    match dialect {
        Dialect::Postgres => ["BOOLEAN", "BIGINT", "DOUBLE PRECISION", "TEXT", "BYTEA", "TIMESTAMPTZ", "JSONB"],
        Dialect::MySql => ["BOOLEAN", "BIGINT", "DOUBLE", "TEXT", "LONGBLOB", "DATETIME(6)", "JSON"],
        Dialect::Sqlite => ["BOOLEAN", "INTEGER", "REAL", "TEXT", "BLOB", "TIMESTAMP", "TEXT"],
    }
}

pub(crate) async fn placeholders_leave_literals_alone(s: &DbSubject) {
    let rows =
        s.db.query("SELECT '$1' AS lit, $1 AS p, 'it''s $2' AS q, $1 AS again /* $2 */ -- $3\n", &["x".into()])
            .await
            .unwrap();
    let row = &rows[0];
    assert_eq!(row.get::<String>("lit").unwrap(), "$1");
    assert_eq!(row.get::<String>("p").unwrap(), "x");
    assert_eq!(row.get::<String>("q").unwrap(), "it's $2");
    assert_eq!(row.get::<String>("again").unwrap(), "x");
}

pub(crate) async fn placeholder_count_is_checked(s: &DbSubject) {
    let err = s.db.query("SELECT $1 AS a, $2 AS b", &["x".into()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
    let err = s.db.query("SELECT 1 AS a", &["x".into()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
    assert_eq!(err.message(), "the SQL has no placeholders but 1 parameter was given");
    let err = s.db.query("SELECT $1 AS a, $2 AS b", &["x".into()]).await.unwrap_err();
    assert_eq!(err.message(), "the SQL uses placeholders $1 to $2 but 1 parameter was given");
}

pub(crate) async fn every_value_type_round_trips(s: &DbSubject) {
    let t = table("vals");
    let [b, i, f, txt, bytes, ts, json] = column_types(s.db.dialect());
    let ddl = format!(
        "CREATE TABLE {t} (id INTEGER PRIMARY KEY, b {b}, i {i}, f {f}, t {txt}, y {bytes}, ts {ts}, j {json})"
    );
    s.db.execute(&ddl, &[]).await.unwrap();
    let when: DateTime<Utc> = (Utc::now() - ChronoDuration::days(400)).trunc_subsecs(6);
    let doc = serde_json::json!({"a": [1, 2.5, null, {"b": "ü✓"}], "t": true});
    let blob = vec![0u8, 1, 0xff, 0xfe, 0, b'\'', b'"'];
    let insert = format!("INSERT INTO {t} (id, b, i, f, t, y, ts, j) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    let full = [
        Value::Int(1),
        true.into(),
        i64::MIN.into(),
        (-1.5e300).into(),
        "ünïcødé ' \" \\ $1".into(),
        blob.clone().into(),
        when.into(),
        doc.clone().into(),
    ];
    s.db.execute(&insert, &full).await.unwrap();
    let nulls =
        [Value::Int(2), Value::Null, Value::Null, Value::Null, Value::Null, Value::Null, Value::Null, Value::Null];
    s.db.execute(&insert, &nulls).await.unwrap();
    let extremes = [
        Value::Int(3),
        false.into(),
        i64::MAX.into(),
        0.1.into(),
        "".into(),
        Vec::<u8>::new().into(),
        when.into(),
        serde_json::json!([]).into(),
    ];
    s.db.execute(&insert, &extremes).await.unwrap();

    let rows = s.db.query(&format!("SELECT b, i, f, t, y, ts, j FROM {t} ORDER BY id"), &[]).await.unwrap();
    assert_eq!(rows.len(), 3);
    let r = &rows[0];
    assert!(r.get::<bool>("b").unwrap());
    assert_eq!(r.get::<i64>("i").unwrap(), i64::MIN);
    assert_eq!(r.get::<f64>("f").unwrap(), -1.5e300);
    assert_eq!(r.get::<String>("t").unwrap(), "ünïcødé ' \" \\ $1");
    assert_eq!(r.get::<Vec<u8>>("y").unwrap(), blob);
    assert_eq!(r.get::<DateTime<Utc>>("ts").unwrap(), when);
    assert_eq!(r.get::<serde_json::Value>("j").unwrap(), doc);
    let r = &rows[1];
    for col in ["b", "i", "f", "t", "y", "ts", "j"] {
        assert!(r.value(col).unwrap().is_null(), "{col} should be NULL, got {:?}", r.value(col));
    }
    assert_eq!(r.get::<Option<i64>>("i").unwrap(), None);
    let r = &rows[2];
    assert!(!r.get::<bool>("b").unwrap());
    assert_eq!(r.get::<i64>("i").unwrap(), i64::MAX);
    assert_eq!(r.get::<f64>("f").unwrap(), 0.1);
    assert_eq!(r.get::<String>("t").unwrap(), "", "an empty string is not NULL");
    assert_eq!(r.get::<Vec<u8>>("y").unwrap(), Vec::<u8>::new());
    assert_eq!(r.get::<serde_json::Value>("j").unwrap(), serde_json::json!([]));

    // Timestamps compare as instants when bound as parameters.
    let newer =
        s.db.query(
            &format!("SELECT id FROM {t} WHERE ts > $1 ORDER BY id"),
            &[(when - ChronoDuration::microseconds(1)).into()],
        )
        .await
        .unwrap();
    assert_eq!(newer.len(), 2);
    let none = s.db.query(&format!("SELECT id FROM {t} WHERE ts > $1"), &[when.into()]).await.unwrap();
    assert!(none.is_empty());
}

async fn kv_table(s: &DbSubject) -> String {
    let t = table("kv");
    s.db.execute(&format!("CREATE TABLE {t} (k VARCHAR(64) PRIMARY KEY, v BIGINT NOT NULL)"), &[]).await.unwrap();
    t
}

async fn count(s: &DbSubject, sql: &str, params: &[Value]) -> i64 {
    s.db.query(sql, params).await.unwrap()[0].get::<i64>("n").unwrap()
}

pub(crate) async fn transaction_commit(s: &DbSubject) {
    let t = kv_table(s).await;
    let mut tx = s.db.begin().await.unwrap();
    tx.execute(&format!("INSERT INTO {t} (k, v) VALUES ($1, $2)"), &["a".into(), 1.into()]).await.unwrap();
    let inside = tx.query(&format!("SELECT COUNT(*) AS n FROM {t}"), &[]).await.unwrap();
    assert_eq!(inside[0].get::<i64>("n").unwrap(), 1, "a transaction sees its own writes");
    tx.commit().await.unwrap();
    assert_eq!(count(s, &format!("SELECT COUNT(*) AS n FROM {t}"), &[]).await, 1);
}

pub(crate) async fn transaction_rollback(s: &DbSubject) {
    let t = kv_table(s).await;
    let insert = format!("INSERT INTO {t} (k, v) VALUES ($1, $2)");
    let mut tx = s.db.begin().await.unwrap();
    tx.execute(&insert, &["a".into(), 1.into()]).await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = s.db.begin().await.unwrap();
    tx.execute(&insert, &["b".into(), 1.into()]).await.unwrap();
    drop(tx);
    // The dropped transaction's rollback completes asynchronously; poll briefly.
    for _ in 0..50 {
        if count(s, &format!("SELECT COUNT(*) AS n FROM {t}"), &[]).await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("rolled back or dropped transactions left rows behind");
}

pub(crate) async fn closure_transaction_rolls_back_on_error(s: &DbSubject) {
    let t = kv_table(s).await;
    let insert = Arc::new(format!("INSERT INTO {t} (k, v) VALUES ($1, $2)"));
    let result: pal::Result<()> =
        s.db.transaction(move |tx| {
            let insert = insert.clone();
            Box::pin(async move {
                tx.execute(&insert, &["a".into(), 1.into()]).await?;
                tx.execute(&insert, &["a".into(), 2.into()]).await?;
                Ok(())
            })
        })
        .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::UniqueViolation);
    assert_eq!(count(s, &format!("SELECT COUNT(*) AS n FROM {t}"), &[]).await, 0, "the first insert was rolled back");
    let value = s
        .db
        .transaction(|tx| Box::pin(async move { tx.query("SELECT 7 AS n", &[]).await.map(|r| r[0].get::<i64>("n")) }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(value, 7);
}

pub(crate) async fn unique_violation_kind(s: &DbSubject) {
    let t = kv_table(s).await;
    let insert = format!("INSERT INTO {t} (k, v) VALUES ($1, $2)");
    s.db.execute(&insert, &["dup".into(), 1.into()]).await.unwrap();
    let err = s.db.execute(&insert, &["dup".into(), 2.into()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
    assert_eq!(err.provider(), Some(s.db.provider()));
}

pub(crate) async fn syntax_error_kind(s: &DbSubject) {
    let err = s.db.query("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Syntax, "{err}");
    // A missing table or column is its own kind (a migration may be pending), and
    // the message is the server's, without the driver's source line numbers.
    let err = s.db.query("SELECT * FROM no_such_table_anywhere", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UndefinedObject, "{err}");
    assert!(err.to_string().contains("no_such_table_anywhere") && !err.to_string().contains(" at line "), "{err}");
    let err = s.db.query("SELECT no_such_column FROM pal_migrations", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UndefinedObject, "{err}");
}

pub(crate) async fn injection_strings_are_data(s: &DbSubject) {
    let t = table("inj");
    s.db.execute(&format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, v TEXT)"), &[]).await.unwrap();
    let nasty = [
        format!("'; DROP TABLE {t}; --"),
        "\" OR 1=1 --".to_string(),
        "$1 $2 ? ?? :name @p1".to_string(),
        "\\'; SELECT pg_sleep(5); --".to_string(),
        "\0nul\0".replace('\0', ""),
    ];
    for (i, v) in nasty.iter().enumerate() {
        s.db.execute(&format!("INSERT INTO {t} (id, v) VALUES ($1, $2)"), &[(i as i64).into(), v.as_str().into()])
            .await
            .unwrap();
    }
    let rows = s.db.query(&format!("SELECT v FROM {t} ORDER BY id"), &[]).await.unwrap();
    let stored: Vec<String> = rows.iter().map(|r| r.get("v").unwrap()).collect();
    assert_eq!(stored, nasty, "parameters are stored verbatim and the table still exists");
}

pub(crate) async fn session_store_expiry(s: &DbSubject) {
    let store = SqlExpiringStore::new(s.db.clone());
    let ns = namespace();
    let (live, dead) = (format!("{ns}live"), format!("{ns}dead"));
    store.upsert(&live, b"alive", Utc::now() + ChronoDuration::seconds(60)).await.unwrap();
    store.upsert(&dead, b"stale", Utc::now() - ChronoDuration::seconds(1)).await.unwrap();
    assert_eq!(&store.get(&live).await.unwrap().unwrap().data[..], b"alive");
    assert_eq!(store.get(&dead).await.unwrap(), None, "an expired row is never returned");
    let short = format!("{ns}short");
    let written_at = std::time::Instant::now();
    store.upsert(&short, b"brief", Utc::now() + ChronoDuration::milliseconds(600)).await.unwrap();
    let present = store.get(&short).await.unwrap().is_some();
    // A read descheduled past the expiry proves nothing: only one made in time counts.
    assert!(present || written_at.elapsed() >= std::time::Duration::from_millis(600), "present before it expires");
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(store.get(&short).await.unwrap(), None, "rows expire without a purge");
    assert!(store.purge_expired().await.unwrap() >= 2);
    assert!(!store.delete(&dead).await.unwrap(), "purge removed the expired row");
    assert!(store.get(&live).await.unwrap().is_some(), "purge keeps live rows");
}

pub(crate) async fn session_store_upsert_and_delete(s: &DbSubject) {
    let store = SqlExpiringStore::new(s.db.clone());
    let id = format!("{}s", namespace());
    let later = (Utc::now() + ChronoDuration::seconds(120)).trunc_subsecs(6);
    store.upsert(&id, b"one", Utc::now() + ChronoDuration::seconds(60)).await.unwrap();
    store.upsert(&id, &[0, 0xff, 1], later).await.unwrap();
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(&record.data[..], &[0, 0xff, 1]);
    assert_eq!(record.expires_at, later);
    assert!(store.delete(&id).await.unwrap());
    assert!(!store.delete(&id).await.unwrap());
    assert_eq!(store.get(&id).await.unwrap(), None);
}

async fn audit_count(s: &DbSubject, action: &str) -> i64 {
    count(s, "SELECT COUNT(*) AS n FROM pal_audit_log WHERE action = $1", &[action.into()]).await
}

pub(crate) async fn audit_batch_is_idempotent(s: &DbSubject) {
    let sink = SqlAuditSink::new(s.db.clone());
    let action = format!("{}login", namespace());
    let events: Vec<AuditEvent> = (0..3)
        .map(|i| AuditEvent {
            actor: Some(format!("user-{i}")),
            ip: Some("192.0.2.1".into()),
            details: serde_json::json!({"method": "password", "attempt": i}),
            ..AuditEvent::new(&action)
        })
        .collect();
    sink.insert_batch(&events).await.unwrap();
    let mut again = events.clone();
    again.push(AuditEvent::new(&action));
    sink.insert_batch(&again).await.unwrap();
    assert_eq!(audit_count(s, &action).await, 4, "re-sent events are stored once");
    let rows =
        s.db.query("SELECT actor, details FROM pal_audit_log WHERE id = $1", &[events[2].id.to_string().into()])
            .await
            .unwrap();
    assert_eq!(rows[0].get::<String>("actor").unwrap(), "user-2");
    assert_eq!(rows[0].get::<serde_json::Value>("details").unwrap()["attempt"], 2);
    sink.insert_batch(&[]).await.unwrap();
}

pub(crate) async fn audit_batch_of_ten_thousand(s: &DbSubject) {
    let sink = SqlAuditSink::new(s.db.clone());
    let action = format!("{}bulk", namespace());
    let events: Vec<AuditEvent> =
        (0..10_000).map(|i| AuditEvent { details: serde_json::json!({"i": i}), ..AuditEvent::new(&action) }).collect();
    sink.insert_batch(&events).await.unwrap();
    assert_eq!(audit_count(s, &action).await, 10_000);
}

pub(crate) async fn migrate_is_idempotent(s: &DbSubject) {
    assert!(s.db.migrate(pal::db::migrate::Tables::ALL).await.unwrap().is_empty(), "the subject was migrated already");
    let rows = s.db.query("SELECT COUNT(*) AS n FROM pal_migrations", &[]).await.unwrap();
    assert!(rows[0].get::<i64>("n").unwrap() >= 1);
    for table in ["pal_sessions", "pal_audit_log", "pal_cache_counters", "pal_cache_journal"] {
        s.db.query(&format!("SELECT COUNT(*) AS n FROM {table}"), &[]).await.unwrap();
    }
}

pub(crate) async fn concurrent_writers(s: &DbSubject) {
    let t = kv_table(s).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (db, t) = (s.db.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                db.execute(
                    &format!("INSERT INTO {t} (k, v) VALUES ($1, $2)"),
                    &[format!("{w}-{i}").into(), (i as i64).into()],
                )
                .await
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(count(s, &format!("SELECT COUNT(*) AS n FROM {t}"), &[]).await, 200);
}

/// SUM and AVG are NUMERIC/DECIMAL on the server dialects; they still read as numbers.
/// Text parameters compare with numeric columns, as the CLI binds them.
pub(crate) async fn aggregates_and_text_parameters(s: &DbSubject) {
    let t = kv_table(s).await;
    for (k, v) in [("a", 1), ("b", 2), ("c", 4)] {
        s.db.execute(&format!("INSERT INTO {t} (k, v) VALUES ($1, $2)"), &[k.into(), v.into()]).await.unwrap();
    }
    let rows = s.db.query(&format!("SELECT SUM(v) AS total, AVG(v) AS mean FROM {t}"), &[]).await.unwrap();
    assert_eq!(rows[0].get::<i64>("total").unwrap(), 7);
    let mean = rows[0].get::<f64>("mean").unwrap();
    // MySQL computes AVG of integers as DECIMAL with 4 decimals (div_precision_increment).
    assert!((mean - 7.0 / 3.0).abs() < 1e-3, "{mean}");
    let rows = s.db.query(&format!("SELECT k FROM {t} WHERE v = $1"), &["2".into()]).await.unwrap();
    assert_eq!(rows[0].get::<String>("k").unwrap(), "b");
}

/// Keys and ids differing only in case, in a trailing space or in Unicode
/// normalization are different rows on every dialect; emails are unique byte for
/// byte (applications normalize them first), the same everywhere.
pub(crate) async fn keys_and_emails_compare_byte_exactly(s: &DbSubject) {
    let store = SqlExpiringStore::new(s.db.clone());
    let ns = namespace();
    let later = Utc::now() + ChronoDuration::seconds(60);
    let ids = [
        format!("{ns}AbC"),
        format!("{ns}abc"),
        format!("{ns}abc "),
        format!("{ns}cl\u{e9}"),
        format!("{ns}cle\u{301}"),
    ];
    for (i, id) in ids.iter().enumerate() {
        store.upsert(id, i.to_string().as_bytes(), later).await.unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(&store.get(id).await.unwrap().unwrap().data[..], i.to_string().as_bytes(), "{id:?}");
    }
    // Emails are the reference service's: its migrations make the `users` table.
    s.db.migrate_app("pal-service", service_migrations(s.db.dialect())).await.unwrap();
    let insert = "INSERT INTO users (id, email, verified, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)";
    for (id, email) in [("a", "Ana@x.io"), ("b", "ana@x.io"), ("c", "ana@x.io "), ("A", "ANA@x.io")] {
        let id = format!("{ns}{id}");
        s.db.execute(insert, &[id.into(), email.into(), false.into(), Utc::now().into()]).await.unwrap();
    }
    let dup =
        s.db.execute(insert, &[format!("{ns}d").into(), "ana@x.io".into(), false.into(), Utc::now().into()]).await;
    assert_eq!(dup.unwrap_err().kind(), ErrorKind::UniqueViolation, "the same bytes are a duplicate");
    let rows = s.db.query("SELECT id FROM users WHERE id = $1", &[format!("{ns}a").into()]).await.unwrap();
    assert_eq!(rows.len(), 1, "ids `a` and `A` are two users");
}

/// Several statements in one call are refused on every dialect before anything
/// runs (SQLite would run them all); so is SQL with nothing in it.
pub(crate) async fn one_statement_per_call(s: &DbSubject) {
    let t = format!("{}t", namespace().replace(':', "_"));
    s.db.execute(&format!("CREATE TABLE {t} (v INTEGER)"), &[]).await.unwrap();
    s.db.execute(&format!("INSERT INTO {t} (v) VALUES (1)"), &[]).await.unwrap();
    let err = s.db.query(&format!("SELECT 1 AS a; DELETE FROM {t}; SELECT 2 AS z"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
    let err = s.db.execute(&format!("DELETE FROM {t}; DROP TABLE {t}"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
    assert_eq!(count(s, &format!("SELECT COUNT(*) AS n FROM {t}"), &[]).await, 1, "nothing ran");
    assert_eq!(s.db.query("  /* nothing */ ", &[]).await.unwrap_err().kind(), ErrorKind::Usage);
    assert_eq!(s.db.query("SELECT 1 AS a;", &[]).await.unwrap().len(), 1, "a trailing `;` is fine");
}

/// NaN and infinities: refused as parameters everywhere (not every database can
/// store them), and never read back as NULL where the database has them.
pub(crate) async fn floats_without_a_number(s: &DbSubject) {
    for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = s.db.query("SELECT $1 AS f", &[Value::Float(f)]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    if s.db.dialect() == Dialect::Postgres {
        let sql = "SELECT 'NaN'::float8 AS nan, '-Infinity'::float8 AS ninf, 1e400::numeric AS big";
        let row = &s.db.query(sql, &[]).await.unwrap()[0];
        assert!(matches!(row.values()[0], Value::Float(f) if f.is_nan()));
        assert_eq!(row.values()[1], Value::Float(f64::NEG_INFINITY));
        assert_eq!(row.values()[2], Value::Decimal(format!("1{}", "0".repeat(400))), "exact, not an infinity");
        assert_eq!(
            row.to_json(),
            serde_json::json!({"nan": "NaN", "ninf": "-Infinity", "big": format!("1{}", "0".repeat(400))})
        );
        assert_eq!(row.values()[0].to_string(), "NaN", "shown as NaN, not as NULL");
    }
}

/// `query_each` hands rows over one at a time, in order, and stops at the first
/// error its callback returns.
pub(crate) async fn rows_stream_one_at_a_time(s: &DbSubject) {
    let t = format!("{}t", namespace().replace(':', "_"));
    s.db.execute(&format!("CREATE TABLE {t} (n INTEGER PRIMARY KEY, v TEXT)"), &[]).await.unwrap();
    for n in 0..500i64 {
        s.db.execute(&format!("INSERT INTO {t} (n, v) VALUES ($1, $2)"), &[n.into(), format!("v{n}").into()])
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let sql = format!("SELECT n, v FROM {t} WHERE n >= $1 ORDER BY n");
    let count =
        s.db.query_each(&sql, &[0i64.into()], &mut |row| {
            seen.push((row.get::<i64>("n")?, row.get::<String>("v")?));
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(count, 500);
    assert!(seen.iter().enumerate().all(|(i, (n, v))| *n == i as i64 && *v == format!("v{i}")));
    let mut taken = 0;
    let err =
        s.db.query_each(&sql, &[0i64.into()], &mut |_| {
            taken += 1;
            if taken == 10 { Err(pal::Error::invalid_input("enough")) } else { Ok(()) }
        })
        .await
        .unwrap_err();
    assert_eq!((err.message(), taken), ("enough", 10), "the callback's error stops the query");
    s.db.ping().await.unwrap();
}
