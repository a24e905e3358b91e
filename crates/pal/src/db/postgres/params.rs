//! Binding [`Value`]s to PostgreSQL parameters. PostgreSQL parameters are typed and
//! sent in binary, so a value must be encoded as the type the server inferred for
//! its placeholder: the statement is prepared first (sqlx caches it per
//! connection) and each value is converted to that parameter's type. This is what
//! lets the same SQL bind a NULL to a TEXT column, text to a JSONB column or an
//! integer to a NUMERIC one, as it does on the other dialects.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use sqlx::encode::{Encode, IsNull};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgTypeKind};
use sqlx::{Postgres, Type, TypeInfo};
use uuid::Uuid;

use super::numeric;
use super::types::{kind, oid};
use crate::db::Value;
use crate::db::value::parse_timestamp;

/// One parameter, already converted to the type its placeholder expects.
pub(super) struct PgParam<'a> {
    target: PgTypeInfo,
    repr: Repr<'a>,
}

enum Repr<'a> {
    Null,
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    /// Text, and anything whose binary form is its text (enums, citext, JSON).
    Text(Cow<'a, str>),
    Jsonb(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    TimestampTz(DateTime<Utc>),
    Timestamp(NaiveDateTime),
    Date(NaiveDate),
    Uuid(Uuid),
    Numeric(Vec<u8>),
}

impl<'a> PgParam<'a> {
    /// Converts `value` for a parameter of type `target`; the error says why it cannot be.
    pub(super) fn new(value: &'a Value, target: &PgTypeInfo) -> Result<Self, String> {
        let repr = if value.is_null() { Repr::Null } else { convert(value, base_type(target))? };
        Ok(PgParam { target: target.clone(), repr })
    }
}

/// Built-in types by OID; domains bind as their base type, enums as their label.
fn base_type(ty: &PgTypeInfo) -> Target {
    let target = match ty.oid().map(|o| o.0) {
        Some(oid::BOOL) => Target::Bool,
        Some(oid::INT2) => Target::I16,
        Some(oid::INT4) => Target::I32,
        Some(oid::INT8) => Target::I64,
        Some(oid::FLOAT4) => Target::F32,
        Some(oid::FLOAT8) => Target::F64,
        Some(oid::NUMERIC) => Target::Numeric,
        Some(oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::UNKNOWN) => Target::TextLike,
        Some(oid::BYTEA) => Target::Bytes,
        Some(oid::TIMESTAMPTZ) => Target::TimestampTz,
        Some(oid::TIMESTAMP) => Target::Timestamp,
        Some(oid::DATE) => Target::Date,
        Some(oid::JSON) => Target::Json,
        Some(oid::JSONB) => Target::Jsonb,
        Some(oid::UUID) => Target::Uuid,
        _ => Target::Other(ty.name().to_string()),
    };
    match (&target, kind(ty)) {
        (Target::Other(_), Some(PgTypeKind::Domain(base))) => base_type(base),
        (Target::Other(_), Some(PgTypeKind::Enum(_))) => Target::TextLike,
        _ => target,
    }
}

enum Target {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Numeric,
    TextLike,
    Bytes,
    TimestampTz,
    Timestamp,
    Date,
    Json,
    Jsonb,
    Uuid,
    Other(String),
}

impl Target {
    fn name(&self) -> &str {
        match self {
            Target::Bool => "BOOLEAN",
            Target::I16 => "SMALLINT",
            Target::I32 => "INTEGER",
            Target::I64 => "BIGINT",
            Target::F32 => "REAL",
            Target::F64 => "DOUBLE PRECISION",
            Target::Numeric => "NUMERIC",
            Target::TextLike => "TEXT",
            Target::Bytes => "BYTEA",
            Target::TimestampTz => "TIMESTAMPTZ",
            Target::Timestamp => "TIMESTAMP",
            Target::Date => "DATE",
            Target::Json => "JSON",
            Target::Jsonb => "JSONB",
            Target::Uuid => "UUID",
            Target::Other(name) => name,
        }
    }
}

fn convert<'a>(value: &'a Value, target: Target) -> Result<Repr<'a>, String> {
    let mismatch =
        |target: &Target| format!("a {} value cannot be bound to a {} parameter", value.type_name(), target.name());
    let unparsable = |target: &Target| format!("the text {value:?} is not a valid {}", target.name());
    let repr = match (&target, value) {
        (Target::Bool, Value::Bool(b)) => Repr::Bool(*b),
        (Target::Bool, Value::Int(i @ (0 | 1))) => Repr::Bool(*i == 1),
        (Target::Bool, Value::Text(s)) => Repr::Bool(parse_bool(s).ok_or_else(|| unparsable(&target))?),
        (Target::I16 | Target::I32 | Target::I64, _) => integer(value, &target)?,
        (Target::F32, Value::Float(f)) => Repr::F32(*f as f32),
        (Target::F32, Value::Int(i)) => Repr::F32(*i as f32),
        (Target::F32, Value::Text(s) | Value::Decimal(s)) => {
            Repr::F32(s.trim().parse().map_err(|_| unparsable(&target))?)
        }
        (Target::F64, Value::Float(f)) => Repr::F64(*f),
        (Target::F64, Value::Int(i)) => Repr::F64(*i as f64),
        (Target::F64, Value::Text(s) | Value::Decimal(s)) => {
            Repr::F64(s.trim().parse().map_err(|_| unparsable(&target))?)
        }
        (Target::Numeric, Value::Int(i)) => {
            Repr::Numeric(numeric::encode(&i.to_string()).ok_or_else(|| mismatch(&target))?)
        }
        (Target::Numeric, Value::Float(f)) if f.is_finite() || f.is_nan() => {
            Repr::Numeric(numeric::encode(&f.to_string()).ok_or_else(|| mismatch(&target))?)
        }
        (Target::Numeric, Value::Text(s)) => Repr::Numeric(numeric_from_text(s).ok_or_else(|| unparsable(&target))?),
        (Target::Numeric, Value::Decimal(d)) => Repr::Numeric(numeric::encode(d).ok_or_else(|| unparsable(&target))?),
        (Target::TextLike, Value::Decimal(d)) => Repr::Text(Cow::Borrowed(d)),
        (Target::TextLike | Target::Other(_), Value::Text(s)) => Repr::Text(Cow::Borrowed(s)),
        (Target::TextLike, Value::Bool(b)) => Repr::Text(Cow::Owned(b.to_string())),
        (Target::TextLike, Value::Int(i)) => Repr::Text(Cow::Owned(i.to_string())),
        (Target::TextLike, Value::Float(f)) => Repr::Text(Cow::Owned(f.to_string())),
        (Target::TextLike, Value::Timestamp(t)) => {
            Repr::Text(Cow::Owned(t.to_rfc3339_opts(SecondsFormat::Micros, true)))
        }
        (Target::TextLike | Target::Json, Value::Json(j)) => Repr::Text(Cow::Owned(j.to_string())),
        (Target::Json, Value::Text(s)) => Repr::Text(Cow::Borrowed(s)),
        (Target::Jsonb, Value::Json(j)) => Repr::Jsonb(Cow::Owned(j.to_string())),
        (Target::Jsonb, Value::Text(s)) => Repr::Jsonb(Cow::Borrowed(s)),
        (Target::Json | Target::Jsonb, Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Decimal(_)) => {
            // A decimal as a JSON number with every digit.
            let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
            if matches!(target, Target::Jsonb) { Repr::Jsonb(Cow::Owned(text)) } else { Repr::Text(Cow::Owned(text)) }
        }
        (Target::Bytes, Value::Bytes(b)) => Repr::Bytes(Cow::Borrowed(b)),
        (Target::Bytes, Value::Text(s)) => Repr::Bytes(Cow::Borrowed(s.as_bytes())),
        (Target::TimestampTz, Value::Timestamp(t)) => Repr::TimestampTz(*t),
        (Target::TimestampTz, Value::Text(s)) => {
            Repr::TimestampTz(parse_timestamp(s).ok_or_else(|| unparsable(&target))?)
        }
        (Target::Timestamp, Value::Timestamp(t)) => Repr::Timestamp(t.naive_utc()),
        (Target::Timestamp, Value::Text(s)) => {
            Repr::Timestamp(parse_timestamp(s).ok_or_else(|| unparsable(&target))?.naive_utc())
        }
        (Target::Date, Value::Timestamp(t)) => Repr::Date(t.date_naive()),
        (Target::Date, Value::Text(s)) => {
            Repr::Date(NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| unparsable(&target))?)
        }
        (Target::Uuid, Value::Text(s)) => Repr::Uuid(Uuid::parse_str(s.trim()).map_err(|_| unparsable(&target))?),
        (Target::Uuid, Value::Bytes(b)) => Repr::Uuid(Uuid::from_slice(b).map_err(|_| mismatch(&target))?),
        (Target::Other(_), _) => {
            return Err(format!(
                "{}; pass it as text and cast it in SQL, e.g. $1::text::{}",
                mismatch(&target),
                target.name().to_ascii_lowercase()
            ));
        }
        _ => return Err(mismatch(&target)),
    };
    Ok(repr)
}

fn integer<'a>(value: &Value, target: &Target) -> Result<Repr<'a>, String> {
    let n: i64 = match value {
        Value::Int(i) => *i,
        Value::Bool(b) => i64::from(*b),
        Value::Text(s) | Value::Decimal(s) => {
            s.trim().parse().map_err(|_| format!("the text {s:?} is not a valid {}", target.name()))?
        }
        Value::Float(f) if f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64 => *f as i64,
        other => return Err(format!("a {} value cannot be bound to a {} parameter", other.type_name(), target.name())),
    };
    let out_of_range = || format!("{n} does not fit in a {} parameter", target.name());
    Ok(match target {
        Target::I16 => Repr::I16(i16::try_from(n).map_err(|_| out_of_range())?),
        Target::I32 => Repr::I32(i32::try_from(n).map_err(|_| out_of_range())?),
        _ => Repr::I64(n),
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "on" => Some(true),
        "false" | "f" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// NUMERIC from text: plain decimals exactly, exponent notation through `f64`.
fn numeric_from_text(s: &str) -> Option<Vec<u8>> {
    numeric::encode(s).or_else(|| s.trim().parse::<f64>().ok().and_then(|f| numeric::encode(&f.to_string())))
}

impl Type<Postgres> for PgParam<'_> {
    /// Only used if sqlx prepares the statement itself; `produces` gives the real type.
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(oid::UNKNOWN))
    }
}

impl Encode<'_, Postgres> for PgParam<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match &self.repr {
            Repr::Null => return Ok(IsNull::Yes),
            Repr::Bool(v) => return <bool as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::I16(v) => return <i16 as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::I32(v) => return <i32 as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::I64(v) => return <i64 as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::F32(v) => return <f32 as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::F64(v) => return <f64 as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::TimestampTz(v) => return <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::Timestamp(v) => return <NaiveDateTime as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::Date(v) => return <NaiveDate as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::Uuid(v) => return <Uuid as Encode<Postgres>>::encode_by_ref(v, buf),
            Repr::Text(s) => buf.extend_from_slice(s.as_bytes()),
            Repr::Jsonb(s) => {
                // JSONB's binary form is a version byte, then the JSON text.
                buf.push(1);
                buf.extend_from_slice(s.as_bytes());
            }
            Repr::Bytes(b) => buf.extend_from_slice(b),
            Repr::Numeric(n) => buf.extend_from_slice(n),
        }
        Ok(IsNull::No)
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(self.target.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::types::Oid;

    fn bind(value: Value, oid: u32) -> Result<(), String> {
        PgParam::new(&value, &PgTypeInfo::with_oid(Oid(oid))).map(drop)
    }

    #[test]
    fn converts_what_the_column_can_hold_and_explains_what_it_cannot() {
        assert!(bind(Value::Null, oid::INT8).is_ok());
        assert!(bind(Value::Text("42".into()), oid::INT4).is_ok());
        assert!(bind(Value::Int(7), oid::NUMERIC).is_ok());
        assert!(bind(Value::Text("{\"a\":1}".into()), oid::JSONB).is_ok());
        assert!(bind(Value::Text("2026-01-02T03:04:05Z".into()), oid::TIMESTAMPTZ).is_ok());
        assert!(bind(Value::Text("8c9e1c1e-3c43-4b7e-9a8e-1f0c2b3d4e5f".into()), oid::UUID).is_ok());
        let err = bind(Value::Int(70_000), oid::INT2).unwrap_err();
        assert!(err.contains("70000") && err.contains("SMALLINT"), "{err}");
        let err = bind(Value::Bytes(vec![1]), oid::INT8).unwrap_err();
        assert!(err.contains("bytes") && err.contains("BIGINT"), "{err}");
        let err = bind(Value::Text("nope".into()), oid::TIMESTAMPTZ).unwrap_err();
        assert!(err.contains("TIMESTAMPTZ"), "{err}");
    }
}
