//! The validated TTL every cache write takes.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// A validated time-to-live: more than zero and at most 365 days. Every write takes
/// one, so there is no hidden default TTL anywhere.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ttl(Duration);

impl Ttl {
    /// The longest TTL: 365 days.
    pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

    /// A TTL of `duration`; an [`ErrorKind::Usage`](crate::ErrorKind::Usage)
    /// error when it is zero or longer than [`MAX`](Ttl::MAX): TTLs are the
    /// code's choice, so a TTL taken from a user is checked by the caller first.
    pub fn new(duration: Duration) -> Result<Ttl> {
        if duration.is_zero() {
            return Err(Error::usage("a TTL must be longer than zero"));
        }
        if duration > Self::MAX {
            return Err(Error::usage(format!(
                "a TTL of {}s is longer than the maximum of 365 days ({}s)",
                duration.as_secs(),
                Self::MAX.as_secs()
            )));
        }
        Ok(Ttl(duration))
    }

    /// A TTL of `secs` seconds; see [`new`](Ttl::new).
    pub fn from_secs(secs: u64) -> Result<Ttl> {
        Ttl::new(Duration::from_secs(secs))
    }

    /// A TTL of `millis` milliseconds; see [`new`](Ttl::new).
    pub fn from_millis(millis: u64) -> Result<Ttl> {
        Ttl::new(Duration::from_millis(millis))
    }

    /// The TTL as given.
    pub fn as_duration(self) -> Duration {
        self.0
    }

    /// Whole seconds, rounded up so a TTL never ends earlier than asked for
    /// on providers with one-second resolution.
    pub fn as_secs_ceil(self) -> u64 {
        self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)
    }

    /// Whole milliseconds, rounded up.
    pub fn as_millis_ceil(self) -> u64 {
        let ms = self.0.as_millis() as u64;
        ms + u64::from(!self.0.subsec_nanos().is_multiple_of(1_000_000))
    }
}

impl TryFrom<Duration> for Ttl {
    type Error = Error;
    fn try_from(d: Duration) -> Result<Ttl> {
        Ttl::new(d)
    }
}

impl fmt::Debug for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ttl({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn rejects_zero_and_absurd_ttls() {
        assert_eq!(Ttl::from_secs(0).unwrap_err().kind(), ErrorKind::Usage);
        assert_eq!(Ttl::from_secs(365 * 86400 + 1).unwrap_err().kind(), ErrorKind::Usage);
        assert!(Ttl::from_secs(365 * 86400).is_ok());
        assert!(Ttl::from_millis(1).is_ok());
    }

    #[test]
    fn rounds_up() {
        assert_eq!(Ttl::from_millis(1500).unwrap().as_secs_ceil(), 2);
        assert_eq!(Ttl::from_secs(2).unwrap().as_secs_ceil(), 2);
        assert_eq!(Ttl::new(Duration::from_micros(1500)).unwrap().as_millis_ceil(), 2);
    }
}
