//! Provider-neutral SQL values and rows.

mod decimal;
mod json;

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::error::{Error, ErrorKind, Result};

#[cfg(feature = "_network")]
pub(crate) use decimal::exact_or_float;

/// A value passed to or read from any database. Each dialect maps it to its own
/// types; reading back through [`Row::get`] gives the same Rust value everywhere,
/// even where a dialect stores it differently (JSON as text, booleans as integers).
/// Non-exhaustive: match it with a `_` arm, as later versions may read more types.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean; stored as an integer where the dialect has no boolean type.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// Binary data.
    Bytes(Vec<u8>),
    /// Always UTC; dialects without time zones store UTC.
    Timestamp(DateTime<Utc>),
    /// JSON; stored as text where the dialect has no JSON type.
    Json(serde_json::Value),
    /// A NUMERIC or DECIMAL no `Int` or `Float` holds exactly, as its exact digits
    /// in plain notation (`-12345678901234567890.5`, trailing zeros of its scale
    /// kept). Decimals an `f64` holds exactly read as `Float`, whole ones within
    /// `i64` as `Int`. As a parameter it binds exactly (NUMERIC/DECIMAL), and must
    /// be in that notation. SQLite has no decimal type and never returns one.
    Decimal(String),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value's type in words, for error messages: `null`, `bool`, `integer`…
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Timestamp(_) => "timestamp",
            Value::Json(_) => "json",
            Value::Decimal(_) => "decimal",
        }
    }
}

impl Value {
    /// Refuses what not every database can store: NaN and infinities (SQLite stores
    /// NaN as NULL, MySQL refuses them, PostgreSQL keeps them), so a parameter
    /// means the same on every dialect.
    pub(crate) fn check_params(params: &[Value]) -> Result<()> {
        for (i, p) in params.iter().enumerate() {
            match p {
                Value::Float(f) if !f.is_finite() => {
                    return Err(Error::invalid_input(format!(
                        "parameter ${}: {} cannot be stored on every database; store it as text",
                        i + 1,
                        json::float_name(*f)
                    )));
                }
                Value::Decimal(d) if !decimal::is_plain(d) => {
                    return Err(Error::invalid_input(format!(
                        "parameter ${}: {d:?} is not a decimal in plain notation (an optional minus sign, digits, \
                         an optional point and digits)",
                        i + 1
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident $(via $conv:expr)?),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant($( ($conv) )?(v))
            }
        }
    )*};
}

value_from! {
    bool => Bool,
    i64 => Int,
    i32 => Int via i64::from,
    u32 => Int via i64::from,
    f64 => Float,
    String => Text,
    &str => Text via str::to_string,
    Vec<u8> => Bytes,
    &[u8] => Bytes via <[u8]>::to_vec,
    DateTime<Utc> => Timestamp,
    serde_json::Value => Json,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Conversion from a [`Value`] read back from any dialect.
pub trait FromValue: Sized {
    /// The value as `Self`, or `None` when it holds something that does not convert.
    fn from_value(value: &Value) -> Option<Self>;
    /// The type in words, for the error when a value does not convert.
    const EXPECTED: &'static str;
}

impl FromValue for i64 {
    const EXPECTED: &'static str = "integer";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Decimal(d) => d.parse().ok(),
            _ => None,
        }
    }
}

impl FromValue for bool {
    const EXPECTED: &'static str = "bool";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            _ => None,
        }
    }
}

/// A decimal reads as the nearest `f64`, so digits beyond a float's 15 to 17
/// are rounded away; read it as a `String` to keep them. One beyond a float's
/// range is an error, not an infinity.
impl FromValue for f64 {
    const EXPECTED: &'static str = "float";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            Value::Decimal(d) => d.parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        }
    }
}

/// A decimal reads as its exact digits.
/// Text, also where a dialect hands it over as bytes (MySQL reports a text column
/// with a binary collation as binary), so every dialect reads the same `String`.
impl FromValue for String {
    const EXPECTED: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) | Value::Decimal(s) => Some(s.clone()),
            Value::Bytes(b) => std::str::from_utf8(b).ok().map(str::to_owned),
            Value::Json(j) => Some(j.to_string()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const EXPECTED: &'static str = "bytes";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl FromValue for DateTime<Utc> {
    const EXPECTED: &'static str = "timestamp";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Timestamp(t) => Some(*t),
            Value::Text(s) => parse_timestamp(s),
            _ => None,
        }
    }
}

impl FromValue for serde_json::Value {
    const EXPECTED: &'static str = "json";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Json(j) => Some(j.clone()),
            Value::Text(s) => serde_json::from_str(s).ok(),
            Value::Bytes(b) => serde_json::from_slice(b).ok(),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// Parses the timestamp texts dialects produce: RFC 3339, or `YYYY-MM-DD HH:MM:SS[.f]` in UTC.
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok().map(|n| n.and_utc()))
}

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

    /// The column converted to `T`; a missing column or an incompatible value is an error
    /// naming the column. Use `Option<T>` for nullable columns.
    pub fn get<T: FromValue>(&self, column: &str) -> Result<T> {
        let value =
            self.value(column).ok_or_else(|| Error::invalid_input(format!("the result has no column {column:?}")))?;
        T::from_value(value).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("column {column:?} holds a {} value, not a {}", value.type_name(), T::EXPECTED),
            )
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
    use super::*;

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
        assert_eq!(row.get::<Option<i64>>("n").unwrap(), None);
        assert_eq!(row.get::<i64>("n").unwrap_err().kind(), ErrorKind::InvalidInput);
        assert!(row.get::<i64>("missing").is_err());
    }

    #[test]
    fn text_handed_over_as_bytes_reads_as_text() {
        let row = Row::new(
            vec!["id".into(), "raw".into()].into(),
            vec![Value::Bytes(b"u-1".to_vec()), Value::Bytes(vec![0xff, 0xfe])],
        );
        assert_eq!(row.get::<String>("id").unwrap(), "u-1");
        assert_eq!(row.get::<Vec<u8>>("id").unwrap(), b"u-1");
        assert_eq!(row.get::<String>("raw").unwrap_err().kind(), ErrorKind::InvalidInput, "not UTF-8: not text");
    }

    #[test]
    fn json_keeps_every_column_in_order() {
        let row = Row::new(
            vec!["z".into(), "id".into(), "a".into(), "id".into(), "id".into()].into(),
            vec![Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4), Value::Null],
        );
        assert_eq!(row.to_json().to_string(), r#"{"z":1,"id":2,"a":3,"id:2":4,"id:3":null}"#);
    }
}
