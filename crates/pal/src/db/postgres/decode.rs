//! PostgreSQL rows to [`Row`]s, by each column's type. Results of prepared
//! statements arrive in binary; the few types pal has no [`Value`] for are an
//! error that says how to read them (cast to text in SQL) rather than a guess.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::postgres::{PgRow, PgTypeInfo, PgTypeKind, PgValueFormat, PgValueRef};
use sqlx::{Column, Decode, Postgres, Row as _, TypeInfo, ValueRef};

use super::numeric;
use super::types::{kind, oid};
use crate::db::rows::RowBuilder;
use crate::db::{Row, Value};
use crate::error::{Error, ErrorKind, Result};

/// One row, its column names shared through `builder` with the others of its result.
pub(super) fn row(provider: &'static str, builder: &mut RowBuilder, row: &PgRow) -> Result<Row> {
    builder.row(row, |row, i| value(provider, row, i))
}

fn value(provider: &'static str, row: &PgRow, i: usize) -> Result<Value> {
    let column = &row.columns()[i];
    let undecodable = |why: String| {
        Error::new(ErrorKind::Backend, format!("cannot read column {:?}: {why}", column.name())).with_provider(provider)
    };
    let raw = row.try_get_raw(i).map_err(|e| undecodable(e.to_string()))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    if raw.format() == PgValueFormat::Text {
        return <String as Decode<Postgres>>::decode(raw).map(Value::Text).map_err(|e| undecodable(e.to_string()));
    }
    match decode(raw, column.type_info()) {
        Some(Ok(value)) => Ok(value),
        Some(Err(e)) => Err(undecodable(e.to_string())),
        None => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "column {:?} has type {}, which pal does not read; cast it in SQL, e.g. {}::text",
                column.name(),
                column.type_info().name(),
                column.name()
            ),
        )
        .with_provider(provider)),
    }
}

type Decoded = std::result::Result<Value, sqlx::error::BoxDynError>;

/// `None` when the type has no [`Value`] counterpart.
fn decode(raw: PgValueRef<'_>, ty: &PgTypeInfo) -> Option<Decoded> {
    fn get<'r, T: Decode<'r, Postgres>>(raw: PgValueRef<'r>) -> std::result::Result<T, sqlx::error::BoxDynError> {
        T::decode(raw)
    }
    let decoded = match ty.oid()?.0 {
        oid::BOOL => get::<bool>(raw).map(Value::Bool),
        oid::INT2 => get::<i16>(raw).map(|v| Value::Int(v.into())),
        oid::INT4 => get::<i32>(raw).map(|v| Value::Int(v.into())),
        oid::INT8 => get::<i64>(raw).map(Value::Int),
        oid::OID => raw.as_bytes().and_then(|b| Ok(u32::from_be_bytes(b.try_into()?))).map(|v| Value::Int(v.into())),
        oid::FLOAT4 => get::<f32>(raw).map(|v| Value::Float(v.into())),
        oid::FLOAT8 => get::<f64>(raw).map(Value::Float),
        oid::NUMERIC => raw.as_bytes().and_then(|b| numeric::decode(b).ok_or_else(|| "malformed NUMERIC".into())),
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::UNKNOWN | oid::CHAR => {
            raw.as_str().map(|s| Value::Text(s.to_string()))
        }
        oid::BYTEA => raw.as_bytes().map(|b| Value::Bytes(b.to_vec())),
        oid::TIMESTAMPTZ => get::<DateTime<Utc>>(raw).map(Value::Timestamp),
        oid::TIMESTAMP => get::<NaiveDateTime>(raw).map(|t| Value::Timestamp(t.and_utc())),
        oid::DATE => get::<NaiveDate>(raw).map(|d| Value::Text(d.to_string())),
        oid::TIME => get::<NaiveTime>(raw).map(|t| Value::Text(t.to_string())),
        oid::JSON => raw.as_bytes().and_then(|b| Ok(Value::Json(serde_json::from_slice(b)?))),
        // JSONB's binary form is a version byte, then the JSON text.
        oid::JSONB => raw.as_bytes().and_then(|b| match b.split_first() {
            Some((1, json)) => Ok(Value::Json(serde_json::from_slice(json)?)),
            _ => Err("unsupported JSONB format version".into()),
        }),
        oid::UUID => get::<uuid::Uuid>(raw).map(|u| Value::Text(u.to_string())),
        oid::VOID => Ok(Value::Null),
        _ => match kind(ty)? {
            PgTypeKind::Domain(base) => return decode(raw, base),
            PgTypeKind::Enum(_) => get::<String>(raw).map(Value::Text),
            _ => return None,
        },
    };
    Some(decoded)
}
