//! MySQL and MariaDB rows to [`Row`]s, by each column's type. The server has no
//! boolean, JSON (on MariaDB) or zoned timestamp types, so the declared column
//! type decides: TINYINT(1) reads as a bool, DATETIME as a UTC timestamp.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use sqlx::mysql::{MySqlRow, MySqlValueRef};
use sqlx::{Column, Decode, MySql, Row as _, TypeInfo, ValueRef};

use crate::db::rows::RowBuilder;
use crate::db::value::exact_or_float;
use crate::db::{Row, Value};
use crate::error::{Error, ErrorKind, Result};

/// One row, its column names shared through `builder` with the others of its result.
pub(super) fn row(provider: &'static str, builder: &mut RowBuilder, row: &MySqlRow) -> Result<Row> {
    builder.row(row, |row, i| value(provider, row, i))
}

fn value(provider: &'static str, row: &MySqlRow, i: usize) -> Result<Value> {
    let undecodable = |why: String| {
        Error::new(ErrorKind::Backend, format!("cannot read column {:?}: {why}", row.columns()[i].name()))
            .with_provider(provider)
    };
    let raw = row.try_get_raw(i).map_err(|e| undecodable(e.to_string()))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    decode(raw, row.columns()[i].type_info().name()).map_err(|e| undecodable(e.to_string()))
}

type Decoded = std::result::Result<Value, sqlx::error::BoxDynError>;

fn get<'r, T: Decode<'r, MySql>>(raw: MySqlValueRef<'r>) -> std::result::Result<T, sqlx::error::BoxDynError> {
    T::decode(raw)
}

fn decode(raw: MySqlValueRef<'_>, type_name: &str) -> Decoded {
    Ok(match type_name {
        "BOOLEAN" => Value::Bool(get::<i64>(raw)? != 0),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => Value::Int(get::<i64>(raw)?),
        name if name.ends_with("UNSIGNED") || name == "BIT" => {
            let n = get::<u64>(raw)?;
            i64::try_from(n).map_or_else(|_| Value::Text(n.to_string()), Value::Int)
        }
        "FLOAT" => Value::Float(get::<f32>(raw)?.into()),
        "DOUBLE" => Value::Float(get::<f64>(raw)?),
        "DECIMAL" => decimal(get::<&str>(raw)?)?,
        // The session time zone is UTC, so these hold UTC.
        "DATETIME" | "TIMESTAMP" => Value::Timestamp(get::<NaiveDateTime>(raw)?.and_utc()),
        "DATE" => Value::Text(get::<NaiveDate>(raw)?.to_string()),
        "TIME" => Value::Text(get::<NaiveTime>(raw)?.to_string()),
        "JSON" => Value::Json(serde_json::from_slice(get::<&[u8]>(raw)?)?),
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "GEOMETRY" => {
            Value::Bytes(get::<&[u8]>(raw)?.to_vec())
        }
        "NULL" => Value::Null,
        _ => Value::Text(get::<&str>(raw)?.to_string()),
    })
}

/// DECIMAL arrives as text: an integer when it is whole and fits, a float when one
/// holds it exactly, else a decimal of its exact digits.
fn decimal(text: &str) -> Decoded {
    let whole = text.split_once('.').map_or(Some(text), |(int, frac)| frac.bytes().all(|b| b == b'0').then_some(int));
    if let Some(n) = whole.and_then(|w| w.parse::<i64>().ok()) {
        return Ok(Value::Int(n));
    }
    exact_or_float(text.to_string()).ok_or_else(|| format!("{text:?} is not a decimal").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_as_integers_when_whole() {
        assert_eq!(decimal("42").unwrap(), Value::Int(42));
        assert_eq!(decimal("-7.000").unwrap(), Value::Int(-7));
        assert_eq!(decimal("2.50").unwrap(), Value::Float(2.5));
        assert_eq!(decimal("99999999999999999999").unwrap(), Value::Decimal("99999999999999999999".into()));
        assert_eq!(decimal("-0.1000000000000000000001").unwrap(), Value::Decimal("-0.1000000000000000000001".into()));
        assert!(decimal("x").is_err());
    }
}
