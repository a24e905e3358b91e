//! The in-process cache on moka: per-entry expiry, bounded size, atomic counters.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use moka::Expiry;
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;

use super::PROVIDER;
use crate::cache::{CacheService, Capabilities, Ttl};
use crate::error::{Error, ErrorKind, Result};

/// The stored value carries its absolute deadline, so updates that must keep the
/// TTL (`incr` on an existing counter) simply copy it, and `ttl` can be answered.
#[derive(Clone)]
struct Entry {
    value: Bytes,
    expires_at: Instant,
}

struct Deadline;

impl Expiry<String, Entry> for Deadline {
    fn expire_after_create(&self, _: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.expires_at.saturating_duration_since(now))
    }

    fn expire_after_update(&self, _: &String, entry: &Entry, now: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(entry.expires_at.saturating_duration_since(now))
    }
}

/// `CACHE_PROVIDER=memory`. moka's sync cache is used from async code on purpose:
/// none of its operations wait on I/O, and its per-key compute lock makes `incr`
/// and `touch` atomic without an async lock.
pub struct MemoryCache {
    cache: Cache<String, Entry>,
}

impl MemoryCache {
    pub fn new(max_entries: u64) -> Self {
        MemoryCache { cache: Cache::builder().max_capacity(max_entries).expire_after(Deadline).build() }
    }

    fn live(entry: Option<Entry>, now: Instant) -> Option<Entry> {
        entry.filter(|e| e.expires_at > now)
    }
}

#[async_trait]
impl CacheService for MemoryCache {
    fn provider(&self) -> &'static str {
        PROVIDER.name
    }

    fn capabilities(&self) -> Capabilities {
        PROVIDER.capabilities
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.cache.get(key).map(|e| e.value))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let expires_at = Instant::now() + ttl.as_duration();
        self.cache.insert(key.to_string(), Entry { value, expires_at });
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        Ok(Self::live(self.cache.remove(key), Instant::now()).is_some())
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        let mut next = 0;
        self.cache.entry_by_ref(key).and_try_compute_with(|current| {
            let now = Instant::now();
            let current = Self::live(current.map(|e| e.into_value()), now);
            next = add_to_counter(current.as_ref().map(|e| &e.value[..]), by)?;
            let expires_at = current.map_or(now + ttl_on_create.as_duration(), |e| e.expires_at);
            Ok::<_, Error>(Op::Put(Entry { value: Bytes::from(next.to_string()), expires_at }))
        })?;
        Ok(next)
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let result = self.cache.entry_by_ref(key).and_compute_with(|current| {
            let now = Instant::now();
            match Self::live(current.map(|e| e.into_value()), now) {
                Some(e) => Op::Put(Entry { value: e.value, expires_at: now + ttl.as_duration() }),
                None => Op::Nop,
            }
        });
        Ok(matches!(result, CompResult::ReplacedWith(_) | CompResult::Inserted(_)))
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let now = Instant::now();
        Ok(Self::live(self.cache.get(key), now).map(|e| e.expires_at - now))
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// Adds `by` to a stored counter value, with the same rules on every provider.
fn add_to_counter(current: Option<&[u8]>, by: i64) -> Result<i64> {
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
