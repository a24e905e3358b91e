//! The in-process cache on moka: per-entry expiry, bounded size, atomic counters.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use moka::Expiry;
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;

use super::PROVIDER;
use crate::cache::{CacheService, Capabilities, Ttl, counter};
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

/// What an entry costs beyond its key and value bytes: moka's node and the key,
/// entry and `Bytes` headers. An estimate: the bound is on what pal can count.
pub const ENTRY_OVERHEAD: u64 = 160;

/// `CACHE_PROVIDER=memory`. moka's sync cache is used from async code on purpose:
/// none of its operations wait on I/O, and its per-key compute lock makes `incr`
/// and `touch` atomic without an async lock.
pub struct MemoryCache {
    cache: Cache<String, Entry>,
    max_bytes: Option<u64>,
}

impl MemoryCache {
    /// At most `max_entries` entries, whatever their size.
    pub fn new(max_entries: u64) -> Self {
        MemoryCache::build(max_entries, None)
    }

    /// At most `max_entries` entries and `max_bytes` of keys, values and per-entry
    /// overhead together.
    pub fn bounded(max_entries: u64, max_bytes: u64) -> Self {
        MemoryCache::build(max_entries, Some(max_bytes))
    }

    fn build(max_entries: u64, max_bytes: Option<u64>) -> Self {
        // One weight bounds both: every entry weighs at least its share of the byte
        // bound, so the bytes cannot be spread over more than `max_entries` entries.
        let max_entries = max_entries.max(1);
        let capacity = max_bytes.unwrap_or(max_entries.saturating_mul(u64::from(u32::MAX)));
        let floor = (capacity / max_entries).max(1);
        let weigher = move |key: &String, entry: &Entry| {
            let bytes = key.len() as u64 + entry.value.len() as u64 + ENTRY_OVERHEAD;
            u32::try_from(bytes.max(floor)).unwrap_or(u32::MAX)
        };
        let cache = Cache::builder().max_capacity(capacity).weigher(weigher).expire_after(Deadline).build();
        MemoryCache { cache, max_bytes }
    }

    /// A value that alone would exceed the byte bound is refused, rather than
    /// accepted and evicted at once.
    fn admit(&self, key: &str, value: &[u8]) -> Result<()> {
        match self.max_bytes {
            Some(max) if key.len() as u64 + value.len() as u64 + ENTRY_OVERHEAD > max => Err(Error::new(
                ErrorKind::ValueTooLarge,
                format!("{} bytes do not fit CACHE_MEMORY_MAX_BYTES={max}", value.len()),
            )
            .with_provider(PROVIDER.name)),
            _ => Ok(()),
        }
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
        let max_value_bytes =
            self.max_bytes.map(|max| usize::try_from(max - ENTRY_OVERHEAD.min(max)).unwrap_or(usize::MAX));
        Capabilities { max_value_bytes, ..PROVIDER.capabilities }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.cache.get(key).map(|e| e.value))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.admit(key, &value)?;
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

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        self.admit(key, &value)?;
        let result = self.cache.entry_by_ref(key).and_compute_with(|current| {
            let now = Instant::now();
            match Self::live(current.map(|e| e.into_value()), now) {
                Some(_) => Op::Nop,
                None => Op::Put(Entry { value, expires_at: now + ttl.as_duration() }),
            }
        });
        Ok(matches!(result, CompResult::ReplacedWith(_) | CompResult::Inserted(_)))
    }

    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let result = self.cache.entry_by_ref(key).and_compute_with(|current| {
            match Self::live(current.map(|e| e.into_value()), Instant::now()) {
                Some(e) if e.value[..] == *expected => Op::Remove,
                _ => Op::Nop,
            }
        });
        Ok(matches!(result, CompResult::Removed(_)))
    }

    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        let result = self.cache.entry_by_ref(key).and_compute_with(|current| {
            let now = Instant::now();
            match Self::live(current.map(|e| e.into_value()), now) {
                Some(e) if e.value[..] == *expected => {
                    Op::Put(Entry { value: e.value, expires_at: now + ttl.as_duration() })
                }
                _ => Op::Nop,
            }
        });
        Ok(matches!(result, CompResult::ReplacedWith(_)))
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn transport(&self) -> Result<crate::tls::Transport> {
        Ok(crate::tls::Transport::InProcess)
    }
}

/// Adds `by` to a stored counter value, with the same rules on every provider.
fn add_to_counter(current: Option<&[u8]>, by: i64) -> Result<i64> {
    let current = match current {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| counter::not_an_integer().with_provider(PROVIDER.name))?,
    };
    current.checked_add(by).ok_or_else(|| counter::overflow(by).with_provider(PROVIDER.name))
}
