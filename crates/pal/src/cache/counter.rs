//! How every provider words a refused `incr`, so a caller reads the same thing
//! whichever provider counts: what went wrong, and what to do about it. No key is
//! named: a key may be a secret (a session id), and errors reach logs.

use crate::error::{Error, ErrorKind};

/// `by` would take the counter past the 64-bit range; the counter is unchanged.
pub(crate) fn overflow(by: i64) -> Error {
    let (bound, which) = if by >= 0 { (i64::MAX, "largest") } else { (i64::MIN, "smallest") };
    Error::new(
        ErrorKind::NotAnInteger,
        format!(
            "counter would overflow: adding {by} passes {bound}, the {which} 64-bit integer; it is left as it was \
             (delete it, or let it expire, to count again)"
        ),
    )
}

/// The key holds a value that is not a decimal 64-bit integer; it is unchanged.
pub(crate) fn not_an_integer() -> Error {
    Error::new(
        ErrorKind::NotAnInteger,
        "counter holds a value that is not a decimal 64-bit integer, so it cannot be counted; it is left as it was",
    )
}
