//! A serde `Deserializer` over a [`Row`], for [`Row::decode`]: the row is a map
//! of its columns (or a sequence of them, for a tuple), each column a
//! self-describing value that also converts to what the target asks for where
//! the dialects store one thing several ways (booleans as integers, JSON as
//! text, timestamps as text). What is written here by hand is only that
//! conversion; maps, sequences and enums of text are serde's own helpers.

mod column;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, Visitor};

use super::Row;
use crate::error::{Error, ErrorKind, Result};
use column::Column;

impl Row {
    /// The whole row as `T`, through serde: a struct (or map) by column name, a
    /// tuple by column order, and any other type from the one column of a
    /// one-column row (`SELECT COUNT(*)` as an `i64`).
    ///
    /// - A struct's fields take the columns of their name (`#[serde(rename)]`
    ///   applies), compared case-insensitively when no field has the exact name,
    ///   since PostgreSQL folds unquoted names to lower case. A field the row has
    ///   no column for takes its `#[serde(default)]`, or is `None` if it is an
    ///   `Option`; otherwise it is a [`Usage`](crate::ErrorKind::Usage) error (the
    ///   SQL does not select what the type needs). Columns no field names are
    ///   ignored, unless the type says `#[serde(deny_unknown_fields)]`.
    /// - NULL reads as `None` into an `Option`, and into anything else is a
    ///   [`Decode`](crate::ErrorKind::Decode) error naming the column: a default
    ///   covers a missing column, not a NULL one.
    /// - Integers of every width, signed or not, 128-bit too, read with range
    ///   checks: 70000 into an `i16` field is an error naming the column, as is
    ///   -1 into a `u64`. They also read from a decimal or text of a whole number
    ///   (MySQL hands over a `BIGINT UNSIGNED` beyond `i64` as text), and from a
    ///   bool as 0 or 1.
    /// - `bool` reads from a bool or from the integers 0 and 1 (MySQL's and
    ///   SQLite's booleans); `f32`/`f64` from floats, integers and decimals.
    /// - `String` (and `&str`, borrowed from the row) from text, decimals (their
    ///   exact digits), text handed over as bytes, and JSON (a JSON string's
    ///   content, else the JSON text).
    /// - `Vec<u8>` (and `serde_bytes`, `bytes::Bytes`) from bytes.
    /// - `chrono::DateTime<Utc>` (or another offset) from a timestamp or a
    ///   timestamp's text; `NaiveDateTime` takes its UTC time.
    /// - `uuid::Uuid` from its text, or from 16 bytes.
    /// - `serde_json::Value`, and any structured type (a `Vec`, a map, a struct
    ///   nested in a field), from a JSON column, also where the dialect stores
    ///   JSON as text (SQLite) or hands it over as bytes (MariaDB). Other
    ///   columns read into a `serde_json::Value` as [`to_json`](Row::to_json)
    ///   writes them. A sequence (`Vec<T>`, `[u8; 16]`) from bytes is the bytes
    ///   themselves, so on MariaDB read a JSON array into a `serde_json::Value`
    ///   or a struct holding it.
    /// - A [`Value::Decimal`](super::Value::Decimal) reads as a string of its digits into any type that
    ///   reads from one (`rust_decimal::Decimal`, `bigdecimal::BigDecimal`, a
    ///   `String`), as the nearest `f64`, or as an integer when it is whole.
    /// - An enum of unit variants reads from text (a PostgreSQL enum, a status
    ///   column), other enums from JSON.
    pub fn decode<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        T::deserialize(RowDeserializer { row: self })
            .map_err(|e| Error::new(e.kind, format!("a row does not decode into {}: {}", short_name::<T>(), e.message)))
    }
}

/// `Option<User>` for `core::option::Option<app::model::User>`: the error names
/// the type as its code does.
fn short_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut path = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            path.push(c);
        } else {
            out.push_str(path.rsplit("::").next().unwrap_or_default());
            path.clear();
            out.push(c);
        }
    }
    out.push_str(path.rsplit("::").next().unwrap_or_default());
    out
}

/// Why a row did not decode, and whose mistake that is: a type needing a
/// column the query does not select is the code's ([`ErrorKind::Usage`]), a
/// value that does not fit its field is the data's ([`ErrorKind::Decode`]).
#[derive(Debug)]
pub(super) struct DecodeError {
    kind: ErrorKind,
    message: String,
    located: bool,
}

impl DecodeError {
    fn usage(message: String) -> DecodeError {
        DecodeError { kind: ErrorKind::Usage, message, located: false }
    }

    /// The error, naming the column it arose in: only the innermost one, where a
    /// value nests in another.
    fn at(mut self, column: &str) -> DecodeError {
        if !self.located {
            self.message = format!("column {column:?}: {}", self.message);
            self.located = true;
        }
        self
    }
}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DecodeError { kind: ErrorKind::Decode, message: message.to_string(), located: false }
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError::usage(format!(
            "the result has no column `{field}`: select it, or give the field #[serde(default)] or an Option type"
        ))
    }

    fn unknown_field(field: &str, _: &'static [&'static str]) -> Self {
        DecodeError::usage(format!("the result has a column `{field}`, which the type denies"))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

/// A whole row: a map of its columns by name, a sequence of them in order, or
/// the one column of a one-column row.
struct RowDeserializer<'de> {
    row: &'de Row,
}

impl<'de> RowDeserializer<'de> {
    fn columns(&self) -> impl Iterator<Item = Column<'de>> {
        self.row.named().map(|(name, value)| Column { name, value })
    }

    /// A map of the columns, each keyed by the field of `fields` it fills: its own
    /// name, or the field that has its name but for ASCII case when no column has
    /// the field's exact name.
    fn map<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value, DecodeError> {
        let columns = self.row.columns();
        let key = |name: Cow<'de, str>| -> Cow<'de, str> {
            if fields.contains(&name.as_ref()) {
                return name;
            }
            fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(&name) && !columns.iter().any(|c| c == *f))
                .map_or(name, |f| Cow::Borrowed(*f))
        };
        let mut map = MapDeserializer::new(self.columns().map(|column| (key(column.name.clone()), column)));
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    fn seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let mut seq = SeqDeserializer::new(self.columns());
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn single(self) -> Result<Column<'de>, DecodeError> {
        match self.columns().collect::<Vec<_>>().as_mut_slice() {
            [column] => Ok(Column { name: std::mem::take(&mut column.name), value: column.value }),
            columns => Err(DecodeError::usage(format!(
                "a row of {} columns decodes into a struct, a map or a tuple, not into one value",
                columns.len()
            ))),
        }
    }
}

/// Types that are one value read the one column of a one-column row.
macro_rules! from_the_one_column {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, DecodeError> {
            self.single()?.$method($($($arg,)*)? visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for RowDeserializer<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.map(&[], visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.map(&[], visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.map(fields, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DecodeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.seq(visitor)
    }

    /// One column's sequence (`Vec<u8>` of a BLOB, a JSON array), or the columns.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.row.values().len() {
            1 => self.single()?.deserialize_seq(visitor),
            _ => self.seq(visitor),
        }
    }

    /// One column's NULL is `None`; a row of several is always `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.row.values().len() {
            1 => self.single()?.deserialize_option(visitor),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    from_the_one_column! {
        deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32; deserialize_i64; deserialize_i128;
        deserialize_u8; deserialize_u16; deserialize_u32; deserialize_u64; deserialize_u128;
        deserialize_f32; deserialize_f64; deserialize_char; deserialize_str; deserialize_string;
        deserialize_bytes; deserialize_byte_buf; deserialize_unit; deserialize_identifier;
        deserialize_unit_struct(name: &'static str);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

impl<'de> IntoDeserializer<'de, DecodeError> for Column<'de> {
    type Deserializer = Column<'de>;

    fn into_deserializer(self) -> Column<'de> {
        self
    }
}
