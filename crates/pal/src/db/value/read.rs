//! Rust values from the [`Value`]s a row holds, one column at a time
//! ([`Row::get`](super::Row::get)).

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

use super::{Value, parse_timestamp};

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

/// Narrower integers read as an `i64` does, then must fit: 70000 is no `i16`.
macro_rules! narrow_integers {
    ($($t:ty => $words:literal),* $(,)?) => {$(
        impl FromValue for $t {
            const EXPECTED: &'static str = $words;
            fn from_value(v: &Value) -> Option<Self> {
                i64::from_value(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}

narrow_integers! {
    i32 => "32-bit integer",
    i16 => "16-bit integer",
    u32 => "unsigned 32-bit integer",
    u16 => "unsigned 16-bit integer",
}

/// Also the digits MySQL hands over for a `BIGINT UNSIGNED` beyond `i64`.
/// Negative values do not convert.
impl FromValue for u64 {
    const EXPECTED: &'static str = "unsigned 64-bit integer";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) | Value::Decimal(s) => s.parse().ok(),
            other => i64::from_value(other).and_then(|i| u64::try_from(i).ok()),
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

/// The UTC time of the timestamp.
impl FromValue for NaiveDateTime {
    const EXPECTED: &'static str = "timestamp";
    fn from_value(v: &Value) -> Option<Self> {
        DateTime::<Utc>::from_value(v).map(|t| t.naive_utc())
    }
}

/// From text (PostgreSQL's UUID type reads as text too), or from 16 bytes.
impl FromValue for Uuid {
    const EXPECTED: &'static str = "uuid";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Uuid::parse_str(s).ok(),
            Value::Bytes(b) if b.len() == 16 => Uuid::from_slice(b).ok(),
            Value::Bytes(b) => std::str::from_utf8(b).ok().and_then(|s| Uuid::parse_str(s).ok()),
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
