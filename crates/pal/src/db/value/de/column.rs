//! One column of a row as a serde `Deserializer`: its [`Value`] handed to the
//! visitor as what it is, or converted to what the visitor asks for where the
//! dialects differ in how they store it.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::value::{BorrowedStrDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, Error as _, Expected, Unexpected, Visitor};

use super::DecodeError;
use crate::db::value::{Value, parse_timestamp};

/// A column: its name, for errors, and its value.
pub(super) struct Column<'de> {
    pub(super) name: Cow<'de, str>,
    pub(super) value: &'de Value,
}

/// Every method reads the value, then names the column in any error.
macro_rules! located {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, DecodeError> {
            Cell(self.value).$method($($($arg,)*)? visitor).map_err(|e| e.at(&self.name))
        }
    )*};
}

impl<'de> Deserializer<'de> for Column<'de> {
    type Error = DecodeError;

    located! {
        deserialize_any; deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32; deserialize_i64;
        deserialize_i128; deserialize_u8; deserialize_u16; deserialize_u32; deserialize_u64; deserialize_u128;
        deserialize_f32; deserialize_f64; deserialize_char; deserialize_str; deserialize_string;
        deserialize_bytes; deserialize_byte_buf; deserialize_option; deserialize_unit; deserialize_seq;
        deserialize_map; deserialize_identifier; deserialize_ignored_any;
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

/// What some visitors say they expect, which tells apart targets that ask for
/// the same thing (a string) but read different texts of it. Checked only where
/// the value could be either, and each pinned by a test, as the words are the
/// crates' own: `serde_json::Value` (JSON kept as text), chrono's zoned and
/// naive date-times (a timestamp with or without an offset).
const JSON_VALUE: &str = "any valid JSON value";
const ZONED_TIME: &str = "an RFC 3339 formatted date and time string";
const NAIVE_TIME: &str = "a formatted date and time string";

fn expects(visitor: &dyn Expected, words: &str) -> bool {
    /// Compares what is written with `words` as it goes, allocating nothing.
    struct Prefix<'w>(&'w str);
    impl fmt::Write for Prefix<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(s).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Prefix(words);
    write!(rest, "{visitor}").is_ok() && rest.0.is_empty()
}

/// The timestamp as the visitor reads it: without an offset for a naive
/// date-time, else RFC 3339 in UTC.
fn timestamp_text(t: &DateTime<Utc>, visitor: &dyn Expected) -> String {
    match expects(visitor, NAIVE_TIME) {
        true => t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        false => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    }
}

/// `YYYY-MM-DD HH:MM:SS…` or `YYYY-MM-DDTHH:MM:SS…`: text worth asking the visitor about.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b' ' | b'T') && b[13] == b':'
}

fn json_error(e: serde_json::Error) -> DecodeError {
    DecodeError::custom(e)
}

/// Runs `$method` of a JSON value's deserializer, or of one reading JSON text.
macro_rules! json {
    ($json:expr, $method:ident($($arg:expr),*)) => {
        $json.$method($($arg),*).map_err(json_error)
    };
    (text $text:expr, $method:ident($($arg:expr),*)) => {{
        let mut de = serde_json::Deserializer::from_str($text);
        let value = (&mut de).$method($($arg),*).map_err(json_error)?;
        de.end().map_err(json_error)?;
        Ok(value)
    }};
    (slice $bytes:expr, $method:ident($($arg:expr),*)) => {{
        let mut de = serde_json::Deserializer::from_slice($bytes);
        let value = (&mut de).$method($($arg),*).map_err(json_error)?;
        de.end().map_err(json_error)?;
        Ok(value)
    }};
}

/// A column's value, read as a self-describing format would, with conversions.
struct Cell<'de>(&'de Value);

impl<'de> Cell<'de> {
    /// Values are named by type, never shown: they may be anything a user stored.
    fn unexpected(&self) -> Unexpected<'de> {
        match self.0 {
            Value::Null => Unexpected::Other("NULL"),
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Int(i) => Unexpected::Signed(*i),
            Value::Float(f) => Unexpected::Float(*f),
            Value::Text(_) => Unexpected::Other("text"),
            Value::Bytes(_) => Unexpected::Other("bytes"),
            Value::Timestamp(_) => Unexpected::Other("timestamp"),
            Value::Json(_) => Unexpected::Other("JSON"),
            Value::Decimal(_) => Unexpected::Other("decimal"),
        }
    }

    fn invalid<T>(&self, visitor: &dyn Expected) -> Result<T, DecodeError> {
        Err(DecodeError::invalid_type(self.unexpected(), visitor))
    }

    fn bytes_seq<V: Visitor<'de>>(bytes: &'de [u8], visitor: V) -> Result<V::Value, DecodeError> {
        let mut seq = SeqDeserializer::new(bytes.iter().copied());
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    /// Integers of any width: the visitor checks the range.
    fn integer<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Bool(b) => visitor.visit_u64(u64::from(*b)),
            Value::Text(s) | Value::Decimal(s) => {
                // A decimal's scale may leave zeros after the point of a whole number.
                let whole = s.split_once('.').map_or(s.as_str(), |(int, frac)| match frac.bytes().all(|b| b == b'0') {
                    true => int,
                    false => s,
                });
                if let Ok(i) = whole.parse::<i64>() {
                    visitor.visit_i64(i)
                } else if let Ok(u) = whole.parse::<u64>() {
                    visitor.visit_u64(u)
                } else if let Ok(i) = whole.parse::<i128>() {
                    visitor.visit_i128(i)
                } else if let Ok(u) = whole.parse::<u128>() {
                    visitor.visit_u128(u)
                } else {
                    self.invalid(&visitor)
                }
            }
            Value::Json(j) => json!(j, deserialize_any(visitor)),
            _ => self.invalid(&visitor),
        }
    }

    fn float<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Int(i) => visitor.visit_i64(*i),
            // Beyond a float's range is an error, not an infinity.
            Value::Decimal(d) => match d.parse::<f64>() {
                Ok(f) if f.is_finite() => visitor.visit_f64(f),
                _ => Err(DecodeError::invalid_value(self.unexpected(), &visitor)),
            },
            Value::Json(j) => json!(j, deserialize_any(visitor)),
            _ => self.invalid(&visitor),
        }
    }

    fn text<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Text(s)
                if looks_like_timestamp(s) && (expects(&visitor, ZONED_TIME) || expects(&visitor, NAIVE_TIME)) =>
            {
                match parse_timestamp(s) {
                    Some(t) => {
                        let text = timestamp_text(&t, &visitor);
                        visitor.visit_string(text)
                    }
                    None => visitor.visit_borrowed_str(s),
                }
            }
            Value::Text(s) | Value::Decimal(s) => visitor.visit_borrowed_str(s),
            // Text a dialect hands over as bytes; sixteen bytes are a UUID's.
            Value::Bytes(b) if b.len() != 16 => match std::str::from_utf8(b) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(b),
            },
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::Timestamp(t) => {
                let text = timestamp_text(t, &visitor);
                visitor.visit_string(text)
            }
            Value::Json(serde_json::Value::String(s)) => visitor.visit_borrowed_str(s),
            Value::Json(j) => visitor.visit_string(j.to_string()),
            _ => self.invalid(&visitor),
        }
    }

    fn bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::Text(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
            Value::Json(j) => json!(j, deserialize_byte_buf(visitor)),
            _ => self.invalid(&visitor),
        }
    }
}

/// Structured values read from JSON, stored as JSON or as its text (which
/// MariaDB hands over as bytes: its JSON is text of a binary collation).
macro_rules! structured {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, DecodeError> {
            match self.0 {
                Value::Json(j) => json!(j, $method($($($arg,)*)? visitor)),
                Value::Text(s) => json!(text s, $method($($($arg,)*)? visitor)),
                Value::Bytes(b) => json!(slice b, $method($($($arg,)*)? visitor)),
                _ => self.invalid(&visitor),
            }
        }
    )*};
}

macro_rules! integers {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            self.integer(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for Cell<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Text(s) if expects(&visitor, JSON_VALUE) && serde_json::from_str::<de::IgnoredAny>(s).is_ok() => {
                json!(text s, deserialize_any(visitor))
            }
            Value::Text(s) | Value::Decimal(s) => visitor.visit_borrowed_str(s),
            // JSON text as its JSON, as `get::<serde_json::Value>` reads it;
            // other bytes as `Row::to_json` writes them, an array of numbers.
            Value::Bytes(b) if expects(&visitor, JSON_VALUE) => match serde_json::from_slice::<de::IgnoredAny>(b) {
                Ok(_) => json!(slice b, deserialize_any(visitor)),
                Err(_) => Cell::bytes_seq(b, visitor),
            },
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::Timestamp(t) => {
                let text = timestamp_text(t, &visitor);
                visitor.visit_string(text)
            }
            Value::Json(j) => json!(j, deserialize_any(visitor)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Bool(b) => visitor.visit_bool(*b),
            // MySQL's and SQLite's booleans.
            Value::Int(i @ (0 | 1)) => visitor.visit_bool(*i == 1),
            Value::Int(_) => Err(DecodeError::invalid_value(self.unexpected(), &visitor)),
            Value::Json(j) => json!(j, deserialize_bool(visitor)),
            _ => self.invalid(&visitor),
        }
    }

    integers!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.float(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.float(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.text(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.text(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.text(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.text(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.bytes(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    /// Bytes are a sequence of bytes (`Vec<u8>`, `[u8; 16]`), even where they
    /// hold JSON text; JSON arrays as they are, also stored as text.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Bytes(b) => Cell::bytes_seq(b, visitor),
            Value::Json(j) => json!(j, deserialize_seq(visitor)),
            Value::Text(s) => json!(text s, deserialize_seq(visitor)),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Bytes(b) => Cell::bytes_seq(b, visitor),
            Value::Json(j) => json!(j, deserialize_tuple(len, visitor)),
            Value::Text(s) => json!(text s, deserialize_tuple(len, visitor)),
            _ => self.invalid(&visitor),
        }
    }

    structured! {
        deserialize_map;
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
    }

    /// Unit variants from text (a PostgreSQL enum, a status column); others from JSON.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Text(s) if !s.trim_start().starts_with(['{', '"']) => {
                visitor.visit_enum(BorrowedStrDeserializer::new(s))
            }
            Value::Text(s) => json!(text s, deserialize_enum(name, variants, visitor)),
            Value::Json(j) => json!(j, deserialize_enum(name, variants, visitor)),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }
}
