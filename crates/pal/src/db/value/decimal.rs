//! NUMERIC and DECIMAL values as read: a float when an `f64` holds the number
//! exactly, else its exact digits. Servers send them as decimal text (MySQL) or
//! as base-10000 digits pal writes out as text (PostgreSQL), so nothing is lost
//! before this choice.

use super::Value;

/// `text` as a `Float` when the nearest `f64` is exactly this number, else as a
/// `Decimal` of the digits as they are; `None` when it is not plain notation.
/// Trailing zeros of the scale do not count: `2.50` is the float 2.5.
// Only the server dialects read decimals.
#[cfg_attr(not(feature = "_network"), allow(dead_code))]
pub(crate) fn exact_or_float(text: String) -> Option<Value> {
    let digits = parts(&text)?;
    Some(match text.parse::<f64>() {
        Ok(f) if f.is_finite() && parts(&f.to_string()) == Some(digits) => Value::Float(f),
        _ => Value::Decimal(text),
    })
}

/// Whether `text` is a decimal in plain notation: an optional minus sign, digits,
/// and an optional point followed by digits.
pub(crate) fn is_plain(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match unsigned.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(unsigned),
    }
}

/// The number `text` names, as a sign and the significant digits either side of
/// the point; `None` when it is not plain notation. Zero has no sign.
#[cfg_attr(not(feature = "_network"), allow(dead_code))]
fn parts(text: &str) -> Option<(bool, &str, &str)> {
    if !is_plain(text) {
        return None;
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
    Some((negative && !(int.is_empty() && frac.is_empty()), int, frac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_only_when_they_hold_the_number() {
        let read = |text: &str| exact_or_float(text.to_string());
        assert_eq!(read("2.50"), Some(Value::Float(2.5)));
        assert_eq!(read("-0.1"), Some(Value::Float(-0.1)));
        assert_eq!(read("100000000000000000000"), Some(Value::Float(1e20)));
        assert_eq!(read("0.000"), Some(Value::Float(0.0)));
        for exact in ["12345678901234567890123", "99999999999999999999", "1234567890.0123456789", "0.30000000000000001"]
        {
            assert_eq!(read(exact), Some(Value::Decimal(exact.into())));
        }
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(read(&huge), Some(Value::Decimal(huge)), "beyond a float's range");
        assert_eq!(read("1e5"), None);
    }

    #[test]
    fn plain_notation_only() {
        for good in ["0", "-12.50", "007", "1.0"] {
            assert!(is_plain(good), "{good}");
        }
        for bad in ["", "-", ".5", "5.", "1e5", "+1", "1.2.3", " 1", "NaN"] {
            assert!(!is_plain(bad), "{bad}");
        }
    }
}
