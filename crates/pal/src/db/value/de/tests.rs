use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::ErrorKind;
use crate::db::{Row, Value};

fn row(columns: &[(&str, Value)]) -> Row {
    Row::new(
        columns.iter().map(|(name, _)| name.to_string()).collect::<Vec<_>>().into(),
        columns.iter().map(|(_, value)| value.clone()).collect(),
    )
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

#[derive(Debug, Deserialize, PartialEq)]
struct User {
    id: Uuid,
    #[serde(rename = "email_address")]
    email: String,
    age: Option<i16>,
    admin: bool,
    #[serde(default)]
    logins: u32,
    nickname: Option<String>,
    created_at: DateTime<Utc>,
    avatar: Option<Vec<u8>>,
    settings: serde_json::Value,
}

fn user_row(age: Value, admin: Value) -> Row {
    row(&[
        ("id", Value::Text("8c9e1c1e-3c43-4b7e-9a8e-1f0c2b3d4e5f".into())),
        ("EMAIL_ADDRESS", Value::Text("ada@example.com".into())),
        ("age", age),
        ("admin", admin),
        ("created_at", Value::Timestamp(at("2026-01-02T03:04:05.5Z"))),
        ("avatar", Value::Bytes(vec![0, 0xff])),
        ("settings", Value::Text(r#"{"theme":"dark"}"#.into())),
        ("unused", Value::Float(1.5)),
    ])
}

#[test]
fn a_struct_reads_its_columns_by_name() {
    let user: User = user_row(Value::Int(36), Value::Int(1)).decode().unwrap();
    assert_eq!(
        user,
        User {
            id: Uuid::parse_str("8c9e1c1e-3c43-4b7e-9a8e-1f0c2b3d4e5f").unwrap(),
            email: "ada@example.com".into(),
            age: Some(36),
            admin: true,
            logins: 0,
            nickname: None,
            created_at: at("2026-01-02T03:04:05.5Z"),
            avatar: Some(vec![0, 0xff]),
            settings: serde_json::json!({"theme": "dark"}),
        },
        "renamed, case-folded, defaulted, absent Option, 0/1 bool, JSON kept as text"
    );
    let user: User = user_row(Value::Null, Value::Bool(false)).decode().unwrap();
    assert_eq!((user.age, user.admin), (None, false));
}

#[test]
fn a_value_that_does_not_fit_is_a_decode_error_naming_its_column() {
    let err = user_row(Value::Int(70_000), Value::Int(1)).decode::<User>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_eq!(
        err.message(),
        r#"a row does not decode into User: column "age": invalid value: integer `70000`, expected i16"#
    );
    let err = user_row(Value::Int(1), Value::Int(2)).decode::<User>().unwrap_err();
    assert!(err.message().contains(r#"column "admin": invalid value: integer `2`, expected a boolean"#), "{err}");
    let err = row(&[("n", Value::Null)]).decode::<(i64,)>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.message().ends_with(r#"column "n": invalid type: NULL, expected i64"#), "{err}");
    let err = row(&[("secret", Value::Text("hunter2".into()))]).decode::<(i64,)>().unwrap_err();
    assert!(!err.message().contains("hunter2"), "values are not shown: {err}");
}

#[test]
fn a_missing_column_or_an_unknown_one_is_the_codes_mistake() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Needs {
        id: i64,
        name: String,
    }
    let err = row(&[("id", Value::Int(1))]).decode::<Needs>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
    assert!(err.message().contains("no column `name`"), "{err}");

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        id: i64,
    }
    let err = row(&[("id", Value::Int(1)), ("extra", Value::Int(2))]).decode::<Strict>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
    let err = row(&[("a", Value::Int(1)), ("b", Value::Int(2))]).decode::<i64>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "two columns are no single value: {err}");
}

#[test]
fn integers_of_every_width_are_range_checked() {
    let one = |v: Value| row(&[("n", v)]);
    assert_eq!(one(Value::Int(-128)).decode::<i8>().unwrap(), -128);
    assert_eq!(one(Value::Int(255)).decode::<u8>().unwrap(), 255);
    assert!(one(Value::Int(256)).decode::<u8>().is_err());
    assert_eq!(one(Value::Int(65_535)).decode::<u16>().unwrap(), 65_535);
    assert_eq!(one(Value::Int(i32::MIN.into())).decode::<i32>().unwrap(), i32::MIN);
    assert!(one(Value::Int(i64::from(i32::MAX) + 1)).decode::<i32>().is_err());
    assert_eq!(one(Value::Int(u32::MAX.into())).decode::<u32>().unwrap(), u32::MAX);
    assert!(one(Value::Int(-1)).decode::<u64>().is_err());
    assert_eq!(one(Value::Int(i64::MIN)).decode::<i128>().unwrap(), i128::from(i64::MIN));
    assert_eq!(one(Value::Text(u64::MAX.to_string())).decode::<u64>().unwrap(), u64::MAX, "MySQL's unsigned");
    let big = "123456789012345678901234567890";
    assert_eq!(one(Value::Decimal(big.into())).decode::<u128>().unwrap(), big.parse::<u128>().unwrap());
    assert_eq!(one(Value::Decimal("-42.000".into())).decode::<i16>().unwrap(), -42, "whole, with a scale");
    assert!(one(Value::Decimal("1.5".into())).decode::<i64>().is_err());
    assert_eq!(one(Value::Bool(true)).decode::<i64>().unwrap(), 1);
    assert!(one(Value::Float(1.0)).decode::<i64>().is_err(), "a float is not an integer");
}

#[test]
fn floats_read_from_floats_integers_and_decimals() {
    let one = |v: Value| row(&[("f", v)]);
    assert_eq!(one(Value::Float(0.1)).decode::<f64>().unwrap(), 0.1);
    assert_eq!(one(Value::Float(0.5)).decode::<f32>().unwrap(), 0.5);
    assert_eq!(one(Value::Int(3)).decode::<f64>().unwrap(), 3.0);
    assert_eq!(one(Value::Decimal("12345678901234567890123".into())).decode::<f64>().unwrap(), 1.2345678901234568e22);
    assert!(one(Value::Decimal(format!("1{}", "0".repeat(400)))).decode::<f64>().is_err(), "no infinity");
    assert_eq!(one(Value::Decimal("0.30000000000000001".into())).decode::<String>().unwrap(), "0.30000000000000001");
}

#[test]
fn text_bytes_and_borrowing() {
    #[derive(Deserialize)]
    struct Borrowed<'a> {
        name: &'a str,
        #[serde(with = "serde_bytes_like")]
        raw: &'a [u8],
    }
    mod serde_bytes_like {
        pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'de [u8], D::Error> {
            <&[u8]>::deserialize(d)
        }
        use serde::Deserialize;
    }
    let r = row(&[("name", Value::Bytes(b"ada".to_vec())), ("raw", Value::Bytes(vec![1, 2, 3]))]);
    let borrowed: Borrowed<'_> = r.decode().unwrap();
    assert_eq!((borrowed.name, borrowed.raw), ("ada", &[1u8, 2, 3][..]), "text handed over as bytes");
    assert_eq!(row(&[("b", Value::Bytes(vec![9, 8]))]).decode::<Vec<u8>>().unwrap(), [9, 8]);
    assert_eq!(row(&[("j", Value::Json(serde_json::json!("x")))]).decode::<String>().unwrap(), "x");
    assert_eq!(row(&[("j", Value::Json(serde_json::json!([1])))]).decode::<String>().unwrap(), "[1]");
    assert!(row(&[("b", Value::Bytes(vec![0xff, 0xfe]))]).decode::<String>().is_err(), "not UTF-8");
}

#[test]
fn timestamps_read_as_zoned_or_naive_from_values_and_text() {
    let when = at("2026-01-02T03:04:05.123456Z");
    for value in [Value::Timestamp(when), Value::Text("2026-01-02 03:04:05.123456".into())] {
        let r = row(&[("t", value)]);
        assert_eq!(r.decode::<DateTime<Utc>>().unwrap(), when);
        assert_eq!(r.decode::<NaiveDateTime>().unwrap(), when.naive_utc());
        assert_eq!(r.decode::<DateTime<chrono::FixedOffset>>().unwrap(), when);
    }
    let shown = row(&[("t", Value::Timestamp(when))]).decode::<String>().unwrap();
    assert_eq!(shown, "2026-01-02T03:04:05.123456Z");
    assert_eq!(
        row(&[("t", Value::Text("2026-13-45 99:00:00".into()))]).decode::<String>().unwrap(),
        "2026-13-45 99:00:00"
    );
    assert!(row(&[("t", Value::Text("2026-13-45 99:00:00".into()))]).decode::<DateTime<Utc>>().is_err());
}

#[test]
fn uuids_read_from_text_and_sixteen_bytes() {
    let id = Uuid::parse_str("8c9e1c1e-3c43-4b7e-9a8e-1f0c2b3d4e5f").unwrap();
    for value in
        [Value::Text(id.to_string()), Value::Bytes(id.as_bytes().to_vec()), Value::Bytes(id.to_string().into_bytes())]
    {
        assert_eq!(row(&[("id", value)]).decode::<Uuid>().unwrap(), id);
    }
    let err = row(&[("id", Value::Text("nope".into()))]).decode::<Uuid>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
}

#[test]
fn json_reads_as_json_wherever_it_is_stored() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Prefs {
        theme: String,
        tags: Vec<String>,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct Holder {
        prefs: Prefs,
        list: Vec<i64>,
        any: serde_json::Value,
        plain: serde_json::Value,
        blob: serde_json::Value,
    }
    let doc = r#"{"theme":"dark","tags":["a","b"]}"#;
    let r = row(&[
        ("prefs", Value::Text(doc.into())),
        ("list", Value::Json(serde_json::json!([1, 2]))),
        ("any", Value::Text("42".into())),
        ("plain", Value::Text("not json".into())),
        ("blob", Value::Bytes(vec![1, 2])),
    ]);
    let holder: Holder = r.decode().unwrap();
    assert_eq!(holder.prefs, Prefs { theme: "dark".into(), tags: vec!["a".into(), "b".into()] });
    assert_eq!(holder.list, [1, 2]);
    assert_eq!(holder.any, serde_json::json!(42), "JSON stored as text");
    assert_eq!(holder.plain, serde_json::json!("not json"), "text that is not JSON is a string");
    assert_eq!(holder.blob, serde_json::json!([1, 2]), "bytes as to_json writes them");
    // MariaDB hands JSON over as bytes: structured targets and JSON values read it.
    let maria = row(&[("prefs", Value::Bytes(doc.as_bytes().to_vec())), ("any", Value::Bytes(b"[1]".to_vec()))]);
    let (prefs, any): (Prefs, serde_json::Value) = maria.decode().unwrap();
    assert_eq!((prefs.theme.as_str(), any), ("dark", serde_json::json!([1])));
    assert_eq!(maria.decode::<(serde_json::Value, Vec<u8>)>().unwrap().1, b"[1]", "a Vec<u8> reads bytes as they are");
    let err = row(&[("prefs", Value::Text("{".into()))]).decode::<(Prefs,)>().unwrap_err();
    assert!(err.message().contains(r#"column "prefs""#), "{err}");
}

#[test]
fn tuples_maps_single_columns_and_enums() {
    let r = row(&[("id", Value::Int(7)), ("name", Value::Text("ada".into())), ("n", Value::Null)]);
    assert_eq!(r.decode::<(i64, String, Option<f64>)>().unwrap(), (7, "ada".into(), None));
    let map: BTreeMap<String, serde_json::Value> = r.decode().unwrap();
    assert_eq!(map["name"], "ada");
    assert_eq!(row(&[("count", Value::Int(3))]).decode::<i64>().unwrap(), 3);
    assert_eq!(row(&[("max", Value::Null)]).decode::<Option<i64>>().unwrap(), None);

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Status {
        Active,
        Banned,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct Id(i64);
    #[derive(Debug, Deserialize, PartialEq)]
    struct Account {
        id: Id,
        status: Status,
    }
    let r = row(&[("id", Value::Int(1)), ("status", Value::Text("banned".into()))]);
    assert_eq!(r.decode::<Account>().unwrap(), Account { id: Id(1), status: Status::Banned });
    assert_ne!(Status::Active, Status::Banned);
    let err = row(&[("id", Value::Int(1)), ("status", Value::Text("gone".into()))]).decode::<Account>().unwrap_err();
    assert!(err.message().contains(r#"column "status": unknown variant `gone`"#), "{err}");
}
