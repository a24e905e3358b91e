//! Values and rows as JSON and as text, for tools (`pal db query`): bytes as an
//! array of numbers in JSON (what serde reads back into a `Vec<u8>`) and as `\x`
//! hex in text, timestamps as RFC 3339, NaN and infinities as strings (JSON has
//! none), decimals with every digit.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use super::{Row, Value};

impl Value {
    /// A JSON value. Bytes are an array of numbers, one per byte, so that serde
    /// reads them back into a `Vec<u8>` (`serde_json::from_value`); a timestamp
    /// is RFC 3339 text. A decimal is a string of its exact digits here, since a
    /// `serde_json::Value` holds no number beyond an `f64`; serializing the value
    /// (`serde_json::to_string(&value)`) writes it as a number with every digit.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            // JSON has no NaN or infinities: they are written as strings, never as null.
            Value::Float(f) if !f.is_finite() => J::String(float_name(*f).to_string()),
            Value::Float(f) => J::from(*f),
            Value::Text(s) | Value::Decimal(s) => J::String(s.clone()),
            Value::Bytes(b) => J::Array(b.iter().map(|byte| J::from(*byte)).collect()),
            Value::Timestamp(t) => J::String(t.to_rfc3339()),
            Value::Json(j) => j.clone(),
        }
    }
}

/// As [`Value::to_json`], except that a decimal is a JSON number with its exact
/// digits (meant for JSON: other formats see serde_json's raw-value wrapper).
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) if !f.is_finite() => serializer.serialize_str(float_name(*f)),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::Text(s) => serializer.serialize_str(s),
            // As a sequence, whatever the format: its own bytes type would not read
            // back the same everywhere (JSON has none).
            Value::Bytes(b) => serializer.collect_seq(b),
            Value::Timestamp(t) => serializer.serialize_str(&t.to_rfc3339()),
            Value::Json(j) => j.serialize(serializer),
            // Plain notation is a JSON number, but for leading zeros or a bare point,
            // which only a value built by hand can have.
            Value::Decimal(d) => match RawValue::from_string(d.clone()) {
                Ok(raw) => raw.serialize(serializer),
                Err(_) => serializer.serialize_str(d),
            },
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Float(x) if !x.is_finite() => f.write_str(float_name(*x)),
            Value::Text(s) | Value::Decimal(s) => f.write_str(s),
            Value::Bytes(b) => f.write_str(&hex(b)),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

impl Row {
    /// The row as a JSON object, columns in their order; a name that repeats (two
    /// tables joined, both with `id`) gets `:2`, `:3`… so no column is lost.
    /// Decimals are strings here: serialize the row for them as exact numbers.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.named().map(|(name, value)| (name.into_owned(), value.to_json())).collect())
    }
}

/// The row as a JSON object, as [`Row::to_json`], with decimals as numbers that
/// keep every digit: what `pal db query --json` prints.
impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.values().len()))?;
        for (name, value) in self.named() {
            map.serialize_entry(&name, value)?;
        }
        map.end()
    }
}

pub(super) fn float_name(f: f64) -> &'static str {
    match f {
        f if f.is_nan() => "NaN",
        f if f > 0.0 => "Infinity",
        _ => "-Infinity",
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("\\x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_every_column_in_order() {
        let row = Row::new(
            vec!["z".into(), "id".into(), "a".into(), "id".into(), "id".into()].into(),
            vec![Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4), Value::Null],
        );
        assert_eq!(row.to_json().to_string(), r#"{"z":1,"id":2,"a":3,"id:2":4,"id:3":null}"#);
    }

    #[test]
    fn bytes_are_numbers_that_read_back() {
        #[derive(serde::Deserialize)]
        struct Blob {
            y: Vec<u8>,
        }
        let bytes = vec![0, 1, 0xfe, 0xff];
        let row = Row::new(vec!["y".into()].into(), vec![Value::Bytes(bytes.clone())]);
        assert_eq!(row.to_json(), serde_json::json!({"y": [0, 1, 254, 255]}));
        assert_eq!(serde_json::from_value::<Blob>(row.to_json()).unwrap().y, bytes);
        assert_eq!(serde_json::from_str::<Blob>(&serde_json::to_string(&row).unwrap()).unwrap().y, bytes);
        assert_eq!(row.values()[0].to_string(), "\\x0001feff", "text shows hex");
    }

    #[test]
    fn decimals_serialize_as_numbers_with_every_digit() {
        let big = "12345678901234567890123.4500";
        let row = Row::new(
            vec!["d".into(), "f".into(), "n".into()].into(),
            vec![Value::Decimal(big.into()), Value::Float(f64::NAN), Value::Decimal(".5".into())],
        );
        assert_eq!(serde_json::to_string(&row).unwrap(), format!(r#"{{"d":{big},"f":"NaN","n":".5"}}"#));
        assert_eq!(row.to_json(), serde_json::json!({"d": big, "f": "NaN", "n": ".5"}));
        assert_eq!(row.values()[0].to_string(), big);
    }
}
