//! Provider-neutral SQL values and rows.

mod de;
mod decimal;
mod json;
mod read;
mod row;

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};

#[cfg(feature = "_network")]
pub(crate) use decimal::exact_or_float;
pub use read::FromValue;
pub use row::Row;

/// A value passed to or read from any database. Each dialect maps it to its own
/// types; reading back through [`Row::get`] gives the same Rust value everywhere,
/// even where a dialect stores it differently (JSON as text, booleans as integers).
/// Non-exhaustive: match it with a `_` arm, as later versions may read more types.
///
/// Parameters come from Rust values with `.into()`: `bool`, every integer type
/// up to 32 bits and `i64`, `f32`/`f64`, `String`/`&String`/`&str`,
/// `Vec<u8>`/`&[u8]`, `DateTime<Utc>` and `NaiveDateTime` (taken as UTC),
/// `serde_json::Value`, [`Uuid`], and `Option` of any of them (`None` is NULL).
/// A [`Uuid`] binds as its hyphenated text: PostgreSQL converts it to a UUID
/// column's own type, MySQL and SQLite store the text (`CHAR(36)`), and it reads
/// back as a `Uuid` from either. `u64` and `usize` convert with `try_into()`,
/// since no dialect binds an integer beyond `i64::MAX` as one (bind a larger
/// one as a [`Value::Decimal`] of its digits, into a NUMERIC or DECIMAL column).
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
    i16 => Int via i64::from,
    i8 => Int via i64::from,
    u32 => Int via i64::from,
    u16 => Int via i64::from,
    u8 => Int via i64::from,
    f64 => Float,
    f32 => Float via f64::from,
    String => Text,
    &String => Text via String::clone,
    &str => Text via str::to_string,
    Vec<u8> => Bytes,
    &[u8] => Bytes via <[u8]>::to_vec,
    DateTime<Utc> => Timestamp,
    NaiveDateTime => Timestamp via |t: NaiveDateTime| t.and_utc(),
    serde_json::Value => Json,
    Uuid => Text via |u: Uuid| u.hyphenated().to_string(),
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// An [`InvalidInput`](crate::ErrorKind::InvalidInput) error above `i64::MAX`:
/// an integer parameter is a 64-bit signed one on every dialect, and a larger one
/// would be stored rounded (SQLite makes it a float) or refused by some only.
impl TryFrom<u64> for Value {
    type Error = Error;

    fn try_from(v: u64) -> Result<Value> {
        i64::try_from(v).map(Value::Int).map_err(|_| {
            Error::invalid_input(format!(
                "{v} is beyond the largest integer parameter ({}); bind it as Value::Decimal into a NUMERIC or \
                 DECIMAL column",
                i64::MAX
            ))
        })
    }
}

/// As for `u64`.
impl TryFrom<usize> for Value {
    type Error = Error;

    fn try_from(v: usize) -> Result<Value> {
        Value::try_from(v as u64)
    }
}

/// Parses the timestamp texts dialects produce: RFC 3339, or `YYYY-MM-DD HH:MM:SS[.f]` in UTC.
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok().map(|n| n.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_values_convert_to_parameters() {
        let id = Uuid::parse_str("8c9e1c1e-3c43-4b7e-9a8e-1f0c2b3d4e5f").unwrap();
        let name = String::from("ada");
        assert_eq!(Value::from(&name), Value::Text("ada".into()));
        assert_eq!(Value::from(-7i16), Value::Int(-7));
        assert_eq!(Value::from(u32::MAX), Value::Int(4_294_967_295));
        assert_eq!(Value::from(1.5f32), Value::Float(1.5));
        assert_eq!(Value::from(id), Value::Text("8c9e1c1e-3c43-4b7e-9a8e-1f0c2b3d4e5f".into()));
        assert_eq!(Value::from(None::<Uuid>), Value::Null);
        assert_eq!(Value::try_from(i64::MAX as u64).unwrap(), Value::Int(i64::MAX));
        let err = Value::try_from(u64::MAX).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err}");
        assert!(err.message().contains("18446744073709551615"), "{err}");
    }
}
