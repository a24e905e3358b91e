//! PostgreSQL's binary NUMERIC format, read and written without a decimal crate:
//! `SUM(bigint)` and `AVG` return NUMERIC, so every application meets it.
//!
//! Layout: digit count, weight (of the first base-10000 digit), sign, display
//! scale, then the base-10000 digits, all big-endian 16-bit.

use crate::db::Value;
use crate::db::value::exact_or_float;

const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;

/// Decodes a NUMERIC: an integer when it is whole and fits, a float when one holds
/// it exactly, else a decimal of its exact digits (rather than a float rounded to
/// 17 digits, or an infinity it is not).
pub(super) fn decode(bytes: &[u8]) -> Option<Value> {
    let word = |i: usize| bytes.get(2 * i..2 * i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let (count, weight, sign, scale) = (word(0)? as usize, word(1)? as i16, word(2)?, word(3)?);
    match sign {
        SIGN_NAN => return Some(Value::Float(f64::NAN)),
        SIGN_PINF => return Some(Value::Float(f64::INFINITY)),
        SIGN_NINF => return Some(Value::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let digits = (0..count).map(|i| word(4 + i)).collect::<Option<Vec<u16>>>()?;
    let mut text = String::new();
    if sign == SIGN_NEG {
        text.push('-');
    }
    // Integer part: base-10000 digits at positions weight, weight-1, …, 0.
    if weight < 0 {
        text.push('0');
    }
    for position in (0..=i32::from(weight)).rev() {
        let index = (i32::from(weight) - position) as usize;
        let digit = digits.get(index).copied().unwrap_or(0);
        if index == 0 {
            text.push_str(&digit.to_string());
        } else {
            text.push_str(&format!("{digit:04}"));
        }
    }
    if scale == 0 {
        return text.parse::<i64>().map_or_else(|_| exact_or_float(text), |n| Some(Value::Int(n)));
    }
    text.push('.');
    let first_fraction = i32::from(weight) + 1;
    let fraction_groups = (usize::from(scale)).div_ceil(4) as i32;
    for k in 0..fraction_groups {
        let index = first_fraction + k;
        let digit = if index >= 0 { digits.get(index as usize).copied().unwrap_or(0) } else { 0 };
        text.push_str(&format!("{digit:04}"));
    }
    // Whole groups overshoot the scale with zeros; the server shows exactly `scale` digits.
    text.truncate(text.len() - (4 * fraction_groups as usize - usize::from(scale)));
    exact_or_float(text)
}

/// Encodes a decimal number written in plain notation (`-12.5`, `42`, `NaN`).
pub(super) fn encode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let mut out = Vec::new();
    let mut push = |w: u16| out.extend_from_slice(&w.to_be_bytes());
    if text.eq_ignore_ascii_case("nan") {
        [0, 0, SIGN_NAN, 0].into_iter().for_each(&mut push);
        return Some(out);
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !is_digits(int_part) || !is_digits(frac_part) {
        return None;
    }
    let int_part = int_part.trim_start_matches('0');
    // Pad both sides to whole base-10000 groups around the decimal point.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let padded = format!("{}{int_part}{frac_part}{}", "0".repeat(int_pad), "0".repeat(frac_pad));
    let mut groups: Vec<u16> =
        padded.as_bytes().chunks(4).map(|c| c.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))).collect();
    let mut weight = ((int_part.len() + int_pad) / 4) as i32 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let count = u16::try_from(groups.len()).ok()?;
    let scale = u16::try_from(frac_part.len()).ok()?;
    let sign = if negative && !groups.is_empty() { SIGN_NEG } else { 0 };
    [count, weight as i16 as u16, sign, scale].into_iter().chain(groups).for_each(&mut push);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Value {
        decode(&encode(text).unwrap()).unwrap()
    }

    #[test]
    fn whole_numbers_read_as_integers() {
        assert_eq!(round_trip("0"), Value::Int(0));
        assert_eq!(round_trip("42"), Value::Int(42));
        assert_eq!(round_trip("-10000"), Value::Int(-10000));
        assert_eq!(round_trip("9223372036854775807"), Value::Int(i64::MAX));
        assert_eq!(round_trip("123456789012"), Value::Int(123_456_789_012));
    }

    #[test]
    fn fractions_read_as_floats_when_one_holds_them() {
        assert_eq!(round_trip("-12.5"), Value::Float(-12.5));
        assert_eq!(round_trip("0.00012"), Value::Float(0.00012));
        assert_eq!(round_trip("10000.0001"), Value::Float(10000.0001));
        assert_eq!(round_trip("100000000000000000000"), Value::Float(1e20));
        assert!(matches!(round_trip("NaN"), Value::Float(f) if f.is_nan()));
    }

    #[test]
    fn what_a_float_cannot_hold_reads_as_its_exact_digits() {
        for exact in
            ["99999999999999999999", "12345678901234567890123", "-1234567890.0123456789", "0.10000000000000000001"]
        {
            assert_eq!(round_trip(exact), Value::Decimal(exact.into()), "{exact}");
        }
        // The scale's trailing zeros are kept, as the server prints them.
        assert_eq!(round_trip("12345678901234567890123.450"), Value::Decimal("12345678901234567890123.450".into()));
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for bad in ["", ".", "1e5", "12a", "--1", "1.2.3"] {
            assert!(encode(bad).is_none(), "{bad:?}");
        }
    }
}
