//! One result row, read a column at a time or whole into a type.

use std::borrow::Cow;
use std::sync::Arc;

use super::{FromValue, Value};
use crate::error::{Error, Result};

/// One result row: column names shared by every row of the result, and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// A row of `values`, one per column of `columns`, in order.
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The value of `column`, whose name compares case-insensitively; `None` when there
    /// is no such column.
    pub fn value(&self, column: &str) -> Option<&Value> {
        let i = self.columns.iter().position(|c| c.eq_ignore_ascii_case(column))?;
        self.values.get(i)
    }

    /// The column converted to `T`. A column the result does not have is a
    /// [`Usage`](crate::ErrorKind::Usage) error, a value that does not convert a
    /// [`Decode`](crate::ErrorKind::Decode) error; both name the column. Use
    /// `Option<T>` for nullable columns.
    pub fn get<T: FromValue>(&self, column: &str) -> Result<T> {
        let value = self.value(column).ok_or_else(|| Error::usage(format!("the result has no column {column:?}")))?;
        T::from_value(value).ok_or_else(|| {
            let found = value.type_name();
            let article = if found.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            Error::decode(format!("column {column:?}: {article} {found} value does not convert to {}", T::EXPECTED))
        })
    }

    /// Each value with its column's name, in order; a name that repeats (two
    /// tables joined, both with `id`) gets `:2`, `:3`… so no column is lost.
    pub(crate) fn named(&self) -> impl Iterator<Item = (Cow<'_, str>, &Value)> {
        let mut seen: Vec<Cow<'_, str>> = Vec::with_capacity(self.columns.len());
        self.columns.iter().zip(&self.values).map(move |(column, value)| {
            let mut name = Cow::Borrowed(column.as_str());
            let mut n = 1;
            while seen.contains(&name) {
                n += 1;
                name = Cow::Owned(format!("{column}:{n}"));
            }
            seen.push(name.clone());
            (name, value)
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDateTime, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::ErrorKind;

    #[test]
    fn typed_reads_bridge_dialect_differences() {
        let row = Row::new(
            vec!["b".into(), "j".into(), "t".into(), "n".into()].into(),
            vec![
                Value::Int(1),
                Value::Text("{\"a\":[1]}".into()),
                Value::Text("2026-01-02 03:04:05.5".into()),
                Value::Null,
            ],
        );
        assert!(row.get::<bool>("b").unwrap());
        assert_eq!(row.get::<serde_json::Value>("j").unwrap(), serde_json::json!({"a": [1]}));
        assert_eq!(row.get::<DateTime<Utc>>("t").unwrap().to_rfc3339(), "2026-01-02T03:04:05.500+00:00");
        assert_eq!(row.get::<NaiveDateTime>("t").unwrap().to_string(), "2026-01-02 03:04:05.500");
        assert_eq!(row.get::<Option<i64>>("n").unwrap(), None);
        let err = row.get::<i64>("n").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_eq!(err.message(), r#"column "n": a null value does not convert to integer"#);
        assert_eq!(row.get::<i64>("missing").unwrap_err().kind(), ErrorKind::Usage);
    }

    #[test]
    fn narrow_integers_and_uuids_are_checked() {
        let id = Uuid::parse_str("8c9e1c1e-3c43-4b7e-9a8e-1f0c2b3d4e5f").unwrap();
        let row = Row::new(
            vec!["big".into(), "neg".into(), "huge".into(), "id".into(), "raw".into()].into(),
            vec![
                Value::Int(70_000),
                Value::Int(-1),
                Value::Text(u64::MAX.to_string()),
                Value::Text(id.to_string()),
                Value::Bytes(id.as_bytes().to_vec()),
            ],
        );
        assert_eq!(row.get::<i32>("big").unwrap(), 70_000);
        assert_eq!(row.get::<u32>("big").unwrap(), 70_000);
        let err = row.get::<i16>("big").unwrap_err();
        assert_eq!(
            (err.kind(), err.message()),
            (ErrorKind::Decode, r#"column "big": an integer value does not convert to 16-bit integer"#)
        );
        assert_eq!(row.get::<i16>("neg").unwrap(), -1);
        assert_eq!(row.get::<u64>("neg").unwrap_err().kind(), ErrorKind::Decode);
        assert_eq!(row.get::<u64>("huge").unwrap(), u64::MAX);
        assert_eq!(row.get::<Uuid>("id").unwrap(), id);
        assert_eq!(row.get::<Uuid>("raw").unwrap(), id);
        assert_eq!(row.get::<Uuid>("big").unwrap_err().kind(), ErrorKind::Decode);
    }

    #[test]
    fn text_handed_over_as_bytes_reads_as_text() {
        let row = Row::new(
            vec!["id".into(), "raw".into()].into(),
            vec![Value::Bytes(b"u-1".to_vec()), Value::Bytes(vec![0xff, 0xfe])],
        );
        assert_eq!(row.get::<String>("id").unwrap(), "u-1");
        assert_eq!(row.get::<Vec<u8>>("id").unwrap(), b"u-1");
        assert_eq!(row.get::<String>("raw").unwrap_err().kind(), ErrorKind::Decode, "not UTF-8: not text");
    }
}
