//! Typed rows: a table with a column of each kind, written from Rust values and
//! read back whole into structs, the same on every dialect.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use pal::db::{Dialect, Value};
use pal::{DatabaseServiceExt, ErrorKind};
use serde::Deserialize;
use uuid::Uuid;

use super::{DbSubject, table};

/// Column types for the `typed` table, in its order: small, whole, big, ratio,
/// flag, name, data, at, doc, uid, amount.
fn column_types(dialect: Dialect) -> [&'static str; 11] {
    match dialect {
        Dialect::Postgres => [
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "DOUBLE PRECISION",
            "BOOLEAN",
            "TEXT",
            "BYTEA",
            "TIMESTAMPTZ",
            "JSONB",
            "UUID",
            "NUMERIC(30,10)",
        ],
        Dialect::MySql => [
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "DOUBLE",
            "BOOLEAN",
            "TEXT",
            "LONGBLOB",
            "DATETIME(6)",
            "JSON",
            "CHAR(36)",
            "DECIMAL(30,10)",
        ],
        Dialect::Sqlite => {
            ["INTEGER", "INTEGER", "INTEGER", "REAL", "BOOLEAN", "TEXT", "BLOB", "TIMESTAMP", "TEXT", "TEXT", "NUMERIC"]
        }
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct Typed {
    id: i64,
    small: i16,
    whole: i32,
    big: u64,
    ratio: f64,
    flag: bool,
    #[serde(rename = "name")]
    label: String,
    data: Vec<u8>,
    at: DateTime<Utc>,
    doc: serde_json::Value,
    uid: Uuid,
    amount: f64,
    nick: Option<String>,
    #[serde(default)]
    not_selected: u32,
}

/// Every column may be NULL here.
#[derive(Debug, Deserialize, PartialEq)]
struct Sparse {
    id: i64,
    small: Option<i16>,
    big: Option<i64>,
    flag: Option<bool>,
    data: Option<Vec<u8>>,
    at: Option<DateTime<Utc>>,
    doc: Option<serde_json::Value>,
    uid: Option<Uuid>,
    nick: Option<String>,
}

/// A row of each kind written from Rust values (`From` for `i16`, `i32`, `&String`,
/// `Uuid`; `TryFrom` for `u64`) and read back with `query_as`, `read_as`,
/// `query_one` and `query_opt`: NULL as `None`, a value that does not fit its
/// field (an `i32` column's 70000 into an `i16`, -1 into a `u64`) a `Decode`
/// error naming the column, a missing row `NotFound`, two rows where one was
/// expected `Usage`.
pub(crate) async fn typed_rows_decode_into_structs(s: &DbSubject) {
    let t = table("typed");
    let [small, whole, big, ratio, flag, name, data, at, doc, uid, amount] = column_types(s.db.dialect());
    s.db.execute(
        &format!(
            "CREATE TABLE {t} (id INTEGER PRIMARY KEY, small {small}, whole {whole}, big {big}, ratio {ratio}, \
             flag {flag}, name {name}, data {data}, at {at}, doc {doc}, uid {uid}, amount {amount}, nick {name})"
        ),
        &[],
    )
    .await
    .unwrap();
    let insert = format!(
        "INSERT INTO {t} (id, small, whole, big, ratio, flag, name, data, at, doc, uid, amount, nick) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    let when = Utc::now().trunc_subsecs(6);
    let id = Uuid::new_v4();
    let name = String::from("Ada ü ' \"");
    let blob = vec![0u8, 1, 0xfe, 0xff, b'\''];
    let doc = serde_json::json!({"tags": ["a", "b"], "n": 1.5, "nested": {"ok": true}});
    let full = vec![
        Value::from(1i64),
        Value::from(-32_768i16),
        Value::from(70_000i32),
        Value::try_from(i64::MAX as u64).unwrap(),
        Value::from(0.1f64),
        Value::from(true),
        Value::from(&name),
        Value::from(blob.clone()),
        Value::from(when),
        Value::from(doc.clone()),
        Value::from(id),
        Value::from(2.5f64),
        Value::from(None::<String>),
    ];
    s.db.execute(&insert, &full).await.unwrap();
    let mut nulls = vec![Value::Null; full.len()];
    nulls[0] = Value::from(2i32);
    s.db.execute(&insert, &nulls).await.unwrap();
    let mut negative = full.clone();
    negative[0] = Value::from(3u32);
    negative[3] = Value::from(-1i64);
    negative[12] = Value::from("n");
    s.db.execute(&insert, &negative).await.unwrap();

    let columns = "id, small, whole, big, ratio, flag, name, data, at, doc, uid, amount, nick";
    let expected = Typed {
        id: 1,
        small: -32_768,
        whole: 70_000,
        big: i64::MAX as u64,
        ratio: 0.1,
        flag: true,
        label: name.clone(),
        data: blob.clone(),
        at: when,
        doc: doc.clone(),
        uid: id,
        amount: 2.5,
        nick: None,
        not_selected: 0,
    };
    let one = format!("SELECT {columns} FROM {t} WHERE id = $1");
    let typed: Vec<Typed> = s.db.query_as(&one, &[1.into()]).await.unwrap();
    assert_eq!(typed, [expected], "{}", s.db.provider());
    let read: Vec<Typed> = s.db.read_as(&one, &[1.into()], None).await.unwrap();
    assert_eq!(read, typed, "the read path decodes the same");

    let sparse: Vec<Sparse> =
        s.db.query_as(&format!("SELECT id, small, big, flag, data, at, doc, uid, nick FROM {t} ORDER BY id"), &[])
            .await
            .unwrap();
    let null =
        Sparse { id: 2, small: None, big: None, flag: None, data: None, at: None, doc: None, uid: None, nick: None };
    assert_eq!(sparse[1], null, "NULL reads as None");
    assert_eq!((sparse[0].uid, sparse[2].nick.as_deref()), (Some(id), Some("n")));

    let err = s.db.query_as::<Typed>(&format!("SELECT {columns} FROM {t} WHERE id = 2"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "NULL into a field that is no Option: {err}");
    assert!(err.message().contains(r#"column "small""#), "{err}");
    let err = s.db.query_one::<(i16,)>(&format!("SELECT whole FROM {t} WHERE id = 1"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.message().contains(r#"column "whole": invalid value: integer `70000`, expected i16"#), "{err}");
    let err = s.db.query_as::<Typed>(&format!("SELECT {columns} FROM {t} WHERE id = 3"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.message().contains(r#"column "big": invalid value: integer `-1`, expected u64"#), "{err}");
    let err = s.db.query_as::<Typed>(&format!("SELECT id, small FROM {t} WHERE id = 1"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "the SQL does not select what the type needs: {err}");

    let count: i64 = s.db.query_one(&format!("SELECT COUNT(*) AS n FROM {t}"), &[]).await.unwrap();
    assert_eq!(count, 3);
    let (flag, naive): (bool, NaiveDateTime) =
        s.db.query_one(&format!("SELECT flag, at FROM {t} WHERE id = 1"), &[]).await.unwrap();
    assert_eq!((flag, naive), (true, when.naive_utc()));
    assert!(s.db.query_one::<bool>("SELECT 1 AS yes", &[]).await.unwrap(), "an integer 1 is true");
    let err = s.db.query_one::<i64>(&format!("SELECT id FROM {t} WHERE id = 99"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(s.db.query_opt::<i64>(&format!("SELECT id FROM {t} WHERE id = 99"), &[]).await.unwrap(), None);
    assert_eq!(s.db.read_opt::<i64>(&format!("SELECT id FROM {t} WHERE id = 2"), &[], None).await.unwrap(), Some(2));
    let err = s.db.query_opt::<i64>(&format!("SELECT id FROM {t}"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "three rows where at most one was expected: {err}");

    // JSON written by `to_json` reads back into the same struct, bytes too.
    let rows = s.db.query(&one, &[1.into()]).await.unwrap();
    let from_json: Typed = serde_json::from_value(rows[0].to_json()).unwrap();
    assert_eq!((from_json.data, from_json.uid, from_json.at), (blob, id, when));
}
