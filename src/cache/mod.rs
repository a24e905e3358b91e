//! The cache abstraction: one object-safe trait every provider implements, and
//! typed session helpers every provider gets for free.

#[cfg(feature = "redis")]
pub mod hybrid;
#[cfg(feature = "memcached")]
pub mod memcached;
pub mod memory;
mod prefix;
#[cfg(feature = "redis")]
pub mod redis;
mod sealed;
mod session;
mod ttl;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub use prefix::{Prefixed, prefixed};
pub use sealed::Sealed;
pub use session::{CacheServiceExt, SESSION_NAMESPACE};
pub use ttl::Ttl;

use crate::error::Result;

/// A byte-level cache with explicit TTLs. Keys are UTF-8 strings; values are
/// arbitrary bytes, including empty ones.
///
/// Every provider keeps the same observable behaviour, checked by the
/// conformance suite in `tests/suite`.
#[async_trait]
pub trait CacheService: Send + Sync + 'static {
    /// The provider's name, as `CACHE_PROVIDER` spells it.
    fn provider(&self) -> &'static str;

    /// The value, or `None` when the key is missing or expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;

    /// Stores `value` under `key` for `ttl`, replacing any value and TTL it had.
    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()>;

    /// Removes the key. Returns whether it existed; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Atomically adds `by` to the decimal integer stored at `key` and returns the
    /// result. A missing key starts at 0 and gets `ttl_on_create`; an existing
    /// counter keeps its TTL, which makes this a fixed-window rate-limit counter.
    /// A value that is not a decimal `i64` is an [`ErrorKind::NotAnInteger`](crate::ErrorKind) error.
    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64>;

    /// Gives an existing key a new TTL. Returns whether the key existed.
    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool>;

    /// The time the key has left, or `None` when it is missing.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>>;

    /// Checks that the provider answers.
    async fn ping(&self) -> Result<()>;
}

/// Adds `by` to a stored counter value, with the same rules on every provider.
pub(crate) fn add_to_counter(current: Option<&[u8]>, by: i64) -> Result<i64> {
    use crate::error::{Error, ErrorKind};
    let current = match current {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes).ok().and_then(|s| s.parse::<i64>().ok()).ok_or_else(|| {
            Error::new(ErrorKind::NotAnInteger, "the value stored at the key is not a decimal integer")
        })?,
    };
    current
        .checked_add(by)
        .ok_or_else(|| Error::new(ErrorKind::NotAnInteger, "increment would overflow a 64-bit integer"))
}
