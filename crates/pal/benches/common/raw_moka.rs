//! The raw-moka side of the memory benchmarks: moka with a per-entry TTL carried
//! in the value, the least a cache with per-entry expiry needs.

use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;

pub(crate) struct ValueTtl;

impl Expiry<String, (Bytes, Duration)> for ValueTtl {
    fn expire_after_create(&self, _: &String, v: &(Bytes, Duration), _: Instant) -> Option<Duration> {
        Some(v.1)
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &(Bytes, Duration),
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.1)
    }
}
