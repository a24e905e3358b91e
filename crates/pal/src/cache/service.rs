//! The cache trait every provider and every layer implements.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::capabilities::Capabilities;
use super::ttl::Ttl;
use crate::error::Result;
use crate::tls::Transport;

/// A byte-level cache with explicit TTLs. Keys are UTF-8 strings; values are
/// arbitrary bytes, including empty ones.
///
/// Every provider keeps the same observable behaviour, checked by the
/// conformance suite in `tests/suite`, which asks [`CacheService::capabilities`]
/// what each provider cannot do.
#[async_trait]
pub trait CacheService: Send + Sync + 'static {
    /// The provider's name, as `CACHE_PROVIDER` spells it.
    fn provider(&self) -> &'static str;

    /// What this cache can do: its provider's declaration, with any limit that
    /// depends on the configuration (memcached's item size) filled in.
    fn capabilities(&self) -> Capabilities;

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

    /// The value and the time it has left (`Duration::MAX` for a key without
    /// expiry), or `None` when the key is missing: one round trip where the
    /// server allows (Redis: `GET` and `PTTL` in one pipeline). The near cache
    /// reads a value this way, to keep it no longer than the server does.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Bytes, Duration)>> {
        let Some(value) = self.get(key).await? else { return Ok(None) };
        Ok(self.ttl(key).await?.map(|left| (value, left)))
    }

    /// The values of `keys`, in their order: `None` for a key missing or
    /// expired. A key may appear more than once. Providers answer in one round
    /// trip where the server allows (Redis `MGET`, per slot in a Cluster;
    /// memcached's multi-get, per server).
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }

    /// Stores every entry for `ttl`, as [`set`](CacheService::set) would one by
    /// one: where a key appears twice, the later value is the one kept. Not a
    /// transaction: when it fails, some entries may be stored.
    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        for (key, value) in entries {
            self.set(key, value.clone(), ttl).await?;
        }
        Ok(())
    }

    /// Removes every key; returns how many of the distinct keys existed.
    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let mut removed = 0;
        for key in distinct(keys) {
            if self.delete(key).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Stores `value` under `key` for `ttl` only if the key is missing (or
    /// expired); returns whether it stored it. Atomic on the server: of many
    /// concurrent `add`s of one key, exactly one returns `true`.
    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool>;

    /// Removes `key` only while it holds exactly `expected`; returns whether it
    /// did. Atomic on the server: what releases a lock only for its owner.
    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool>;

    /// Gives `key` a new TTL only while it holds exactly `expected`; returns
    /// whether it did. Atomic on the server: what extends a lock only for its owner.
    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool>;

    /// Checks that the provider answers.
    async fn ping(&self) -> Result<()>;

    /// Whether the cache serves, and whether all of it does: `Ok(None)` healthy,
    /// `Ok(Some(why))` serving with a part of it down (redis-hybrid on its database
    /// alone), `Err` unavailable. A cache of one part is as healthy as its `ping`.
    async fn health(&self) -> Result<Option<String>> {
        self.ping().await.map(|()| None)
    }

    /// How the connections behind this cache are protected, for `pal check`.
    async fn transport(&self) -> Result<Transport>;

    /// What only this cache can tell about how it is configured, for `pal check`
    /// and start-up: notes worth a warning, or a `Config` error when the cache
    /// cannot serve the data it holds (a sealed cache written with another
    /// `CACHE_KEY_SECRET`). Most caches have nothing to say. It never writes.
    async fn check_configuration(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Up to `limit` live entries whose keys start with `prefix`, keys as this
    /// cache's callers name them, for checks that must look at what a cache holds
    /// (the sealing layer's key check). Bounded work, for a check once per process,
    /// never for a request. `Ok(None)`: this cache cannot list its keys, the default.
    async fn sample(&self, prefix: &str, limit: usize) -> Result<Option<Sampled>> {
        let _ = (prefix, limit);
        Ok(None)
    }
}

/// The distinct keys of a batch, each once (in sorted order): what `delete_many`
/// removes and counts.
pub(crate) fn distinct<'k>(keys: &[&'k str]) -> Vec<&'k str> {
    let mut distinct = keys.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
}

/// The items of a batch with the last of each key only, in the batch's order:
/// what writing them one after the other would leave.
pub(crate) fn last_of_each<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<&T> {
    let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        last.insert(key(item), i);
    }
    items.iter().enumerate().filter(|(i, item)| last[key(item)] == *i).map(|(_, item)| item).collect()
}

/// Entries read by [`CacheService::sample`]: each key with its stored value.
pub type Sampled = Vec<(String, Bytes)>;
