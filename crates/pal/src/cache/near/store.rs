//! The near cache's memory: opened values by the application's key, a reverse
//! index from the key's name on the server (what an invalidation names) to it,
//! and the gate that says whether anything may be served at all.
//!
//! Coherence rests on three rules, each cheap on a hit:
//! - **Generations.** Every change of the gate (tracking lost or regained, the
//!   hybrid's breaker opening or closing) starts a new generation; an entry is
//!   served only in the generation it was filled in, and only while the gate is
//!   open. A clear therefore needs no sweep to take effect.
//! - **Fill after capture.** A miss captures its key's invalidation sequence
//!   *before* the server is asked, stores the answer, then reads the sequence
//!   again: an invalidation that raced the read (it may arrive on the tracking
//!   connection before the reply arrives on the data connection) bumped the
//!   sequence, so the fill takes itself back. An invalidation bumps first and
//!   removes second, so either the fill sees the bump or the removal sees the fill.
//! - **Tokens.** The reverse index entry of a key is removed on eviction only when
//!   it still belongs to the evicted entry, never a newer fill's.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use moka::notification::RemovalCause;

/// Something that keeps a near cache told (a tracking task); dropping it stops it.
pub type Tracking = Box<dyn Send + Sync>;

/// Why entries were dropped, for the metrics and `pal check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The server said the key changed (any writer, expiry or eviction there).
    Server,
    /// This process wrote, touched or deleted the key.
    OwnWrite,
    /// The tracking connection was lost, reconnected or stopped answering.
    Connection,
    /// The server was replaced: a failover, a cluster topology change, a flush.
    Topology,
    /// redis-hybrid's breaker opened: the database serves, the near cache waits.
    Breaker,
}

impl Cause {
    pub(crate) const ALL: [Cause; 5] =
        [Cause::Server, Cause::OwnWrite, Cause::Connection, Cause::Topology, Cause::Breaker];

    /// The label value in `pal_cache_near_invalidations_total{cause}`.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Server => "server",
            Cause::OwnWrite => "own_write",
            Cause::Connection => "connection",
            Cause::Topology => "topology",
            Cause::Breaker => "breaker",
        }
    }
}

struct Entry {
    value: Bytes,
    generation: u64,
    token: u64,
    server_key: Arc<str>,
    lifetime: Duration,
    /// When the key expires on the server, as its TTL said at the fill; `None`
    /// for a key without one. A TTL changed since is an invalidation.
    expires_at: Option<Instant>,
}

struct Lifetime;

impl Expiry<Arc<str>, Arc<Entry>> for Lifetime {
    fn expire_after_create(&self, _: &Arc<str>, entry: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(entry.lifetime)
    }

    fn expire_after_update(
        &self,
        _: &Arc<str>,
        entry: &Arc<Entry>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.lifetime)
    }
}

/// Shards of the per-key counts and of the reverse index: enough that
/// unrelated keys rarely share one.
const SHARDS: usize = 1024;
/// What an entry costs beyond its key and value bytes (moka's node, the index).
const ENTRY_OVERHEAD: usize = 160;

/// Whether the near cache may serve, and since when.
#[derive(Debug, Default)]
struct Gate {
    /// Bumped on every change; a fill carries the one it started in.
    generation: u64,
    /// The tracking round whose invalidations are being received, if any.
    tracking: Option<u64>,
    /// redis-hybrid's breaker is open.
    suspended: bool,
    /// Tracking rounds begun.
    rounds: u64,
    /// The tracking connections of the round: server address and client id.
    clients: Vec<(String, i64)>,
}

/// Counters for `pal check`, the tests and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NearStats {
    /// Whether invalidations are being received and the near cache serves.
    pub active: bool,
    /// Gets answered from process memory.
    pub hits: u64,
    /// Gets that went to the server.
    pub misses: u64,
    /// Entries dropped, by cause, in the order of [`Cause`]'s variants.
    pub invalidations: Vec<(&'static str, u64)>,
    /// Entries held now.
    pub entries: u64,
    /// Bytes held now, as weighed (keys, values and bookkeeping).
    pub bytes: u64,
    /// Tracking rounds begun: the first connection, then one per reconnection.
    pub rounds: u64,
    /// The tracking connections now: each server's address and the connection's
    /// `CLIENT ID` there (named `pal-near-cache` in `CLIENT LIST`).
    pub clients: Vec<(String, i64)>,
}

/// What the near cache keeps per shard of key names: a key's invalidations and
/// this process's writes of it are counted here, so a fill can tell whether
/// either happened while it read.
#[derive(Default)]
struct Shard {
    /// Bumped by every invalidation (the server's, or a write of this process
    /// that drops its entry).
    invalidations: AtomicU64,
    /// Bumped by every write of this process that keeps its value: two writes of
    /// one key in flight at once may be applied in one order and finish in the other.
    own_writes_begun: AtomicU64,
    /// This process's writes begun and not finished.
    own_in_flight: AtomicU64,
    state: Mutex<ShardState>,
}

impl Shard {
    fn lock(&self) -> std::sync::MutexGuard<'_, ShardState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Default)]
struct ShardState {
    /// A key's name on the server, to the application's key and the token of the
    /// entry that registered it.
    owners: HashMap<Arc<str>, (Arc<str>, u64)>,
    /// This process's writes whose own invalidation has not arrived yet, by the
    /// key's name on the server: that many invalidations of the key are this
    /// process's own and leave the entry it filled with the value it wrote.
    own_writes: HashMap<Arc<str>, u32>,
}

impl ShardState {
    /// Takes one of this process's writes of `server_key` off the count; whether
    /// there was one.
    fn take_own_write(&mut self, server_key: &str) -> bool {
        let Some(pending) = self.own_writes.get_mut(server_key) else { return false };
        *pending -= 1;
        if *pending == 0 {
            self.own_writes.remove(server_key);
        }
        true
    }
}

/// A near cache's memory. Only pal fills and invalidates it; a provider's
/// [`CacheConfig::track`](crate::cache::CacheConfig::track) is handed one to keep told.
pub struct Store {
    entries: moka::sync::Cache<Arc<str>, Arc<Entry>>,
    shards: Arc<[Shard]>,
    /// `generation << 1 | open`, read on every hit; `gate` is its source.
    published: AtomicU64,
    gate: Mutex<Gate>,
    tokens: AtomicU64,
    ttl_max: Duration,
    hasher: std::hash::RandomState,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    max_bytes: u64,
    /// The share of misses that fill an entry once the cache is full, in 1/2^16:
    /// the recent hit ratio (see `fill_now`).
    fill_share: AtomicU64,
    /// Hits and misses when `fill_share` was last computed.
    measured: Mutex<(u64, u64)>,
    /// The cache has been full since it was last emptied.
    full: std::sync::atomic::AtomicBool,
    invalidations: [AtomicU64; 5],
}

/// What a miss captured before asking the server.
pub(crate) struct Fill {
    generation: u64,
    sequence: u64,
    shard: usize,
    server_key: Arc<str>,
    /// The shard's own-write sequence when the fill began (for a write, once
    /// the write was counted): a write of this process skips its own
    /// invalidation, so a fill that raced it must notice it another way.
    own: u64,
    /// A write of the key by this process was in flight when the fill began: it
    /// may be applied before or after this read, so the value is not kept.
    tainted: bool,
}

impl Store {
    pub(crate) fn new(max_bytes: u64, ttl_max: Duration) -> Arc<Store> {
        let shards: Arc<[Shard]> = (0..SHARDS).map(|_| Shard::default()).collect();
        let hasher = std::hash::RandomState::new();
        let index = shards.clone();
        let shard_of = hasher.clone();
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &Arc<str>, entry: &Arc<Entry>| {
                let weight = key.len() + entry.server_key.len() + entry.value.len() + ENTRY_OVERHEAD;
                u32::try_from(weight).unwrap_or(u32::MAX)
            })
            .expire_after(Lifetime)
            .eviction_listener(move |_key, entry: Arc<Entry>, cause| {
                // A replacement's new entry registered itself already.
                if cause == RemovalCause::Replaced {
                    return;
                }
                let shard = shard(&shard_of, &entry.server_key);
                let mut state = index[shard].lock();
                if state.owners.get(&entry.server_key).is_some_and(|(_, token)| *token == entry.token) {
                    state.owners.remove(&entry.server_key);
                }
            })
            .build();
        Arc::new(Store {
            entries,
            shards,
            published: AtomicU64::new(0),
            gate: Mutex::new(Gate::default()),
            tokens: AtomicU64::new(0),
            ttl_max,
            hasher,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            max_bytes,
            fill_share: AtomicU64::new(1 << 16),
            measured: Mutex::new((0, 0)),
            full: std::sync::atomic::AtomicBool::new(false),
            invalidations: Default::default(),
        })
    }

    /// The entry held for `key`, when the gate is open and it was filled since.
    fn entry(&self, key: &str) -> Option<Arc<Entry>> {
        let published = self.published.load(Ordering::Acquire);
        if published & 1 == 0 {
            return None;
        }
        let entry = self.entries.get(key)?;
        (entry.generation == published >> 1).then_some(entry)
    }

    /// The value held for `key`.
    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        self.entry(key).map(|e| e.value.clone())
    }

    /// The time `key` has left on the server, when its value is held: `Some(None)`
    /// for a key without expiry; `None` when only the server can say.
    pub(crate) fn ttl(&self, key: &str) -> Option<Option<Duration>> {
        let entry = self.entry(key)?;
        match entry.expires_at {
            None => Some(None),
            Some(at) => Some(Some(at.saturating_duration_since(Instant::now()))),
        }
    }

    /// Whether the near cache serves now.
    pub(crate) fn is_open(&self) -> bool {
        self.published.load(Ordering::Acquire) & 1 == 1
    }

    /// Counts a miss; whether it should fill an entry. While there is room,
    /// always. Once full, a fill evicts another entry and costs the server a
    /// `PTTL`: keys beyond the cache's size (uniform or cold reads) would pay
    /// that on every read for nothing. So a miss fills with the probability of
    /// the recent hit ratio (at least 1/64): nearly always when the hot keys fit,
    /// rarely when they do not, so such reads cost about what they cost without
    /// the near cache. Not filling is always safe.
    pub(crate) fn miss_fills(&self) -> bool {
        const EVERY: u64 = 4096;
        let misses = self.misses.fetch_add(1, Ordering::Relaxed) + 1;
        if misses.is_multiple_of(EVERY) {
            let hits = self.hits.load(Ordering::Relaxed);
            let mut measured = self.measured.lock().unwrap_or_else(|p| p.into_inner());
            let (dh, dm) = (hits.saturating_sub(measured.0), misses.saturating_sub(measured.1));
            *measured = (hits, misses);
            let share = ((dh << 16) / (dh + dm).max(1)).max(1 << 10);
            self.fill_share.store(share, Ordering::Relaxed);
        }
        // Room is judged once: evictions keep a full cache hovering just below
        // its bound, which must not count as room.
        if !self.full.load(Ordering::Relaxed) {
            if self.entries.weighted_size() < self.max_bytes - self.max_bytes / 8 {
                return true;
            }
            self.full.store(true, Ordering::Relaxed);
        }
        // A cheap, well-spread draw: the miss count through a multiplicative hash.
        let draw = misses.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48;
        draw < self.fill_share.load(Ordering::Relaxed)
    }

    /// Starts a fill of `key`, whose name on the server is `server_key`: `None`
    /// when the gate is closed (the value is then only passed through).
    pub(crate) fn begin(&self, server_key: String) -> Option<Fill> {
        let published = self.published.load(Ordering::Acquire);
        if published & 1 == 0 {
            return None;
        }
        let shard = shard(&self.hasher, &server_key);
        Some(Fill {
            generation: published >> 1,
            sequence: self.shards[shard].invalidations.load(Ordering::SeqCst),
            shard,
            server_key: server_key.into(),
            own: self.shards[shard].own_writes_begun.load(Ordering::SeqCst),
            tainted: self.shards[shard].own_in_flight.load(Ordering::SeqCst) > 0,
        })
    }

    /// Keeps `value`, read for `fill`, for `min(remaining, CACHE_NEAR_TTL_MAX_MS)`,
    /// unless the key was invalidated since the fill began.
    /// `remaining` is `Duration::MAX` for a key without expiry.
    pub(crate) fn finish(&self, key: &str, fill: Fill, value: Bytes, remaining: Duration) {
        let lifetime = remaining.min(self.ttl_max);
        let expires_at = match remaining {
            Duration::MAX => None,
            left => Instant::now().checked_add(left),
        };
        if lifetime.is_zero() || fill.tainted {
            self.entries.invalidate(key);
            return;
        }
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        let key: Arc<str> = key.into();
        {
            self.shards[fill.shard].lock().owners.insert(fill.server_key.clone(), (key.clone(), token));
        }
        let (shard, sequence, own) = (fill.shard, fill.sequence, fill.own);
        let entry =
            Entry { value, generation: fill.generation, token, server_key: fill.server_key, lifetime, expires_at };
        self.entries.insert(key.clone(), Arc::new(entry));
        // A write of the key by this process, begun since, may have been applied
        // after this read or write and stored before it: this value is not sure.
        let shard = &self.shards[shard];
        let overtaken = shard.own_writes_begun.load(Ordering::SeqCst) != own;
        if shard.invalidations.load(Ordering::SeqCst) != sequence || overtaken {
            self.entries.invalidate(&key);
        }
    }

    /// Starts a write by this process of `key` (named `server_key` there) whose
    /// value it will keep: `None` when the gate is closed.
    pub(crate) fn begin_write(&self, server_key: String) -> Option<Fill> {
        let mut fill = self.begin(server_key)?;
        let shard = &self.shards[fill.shard];
        *shard.lock().own_writes.entry(fill.server_key.clone()).or_insert(0) += 1;
        fill.tainted = shard.own_in_flight.fetch_add(1, Ordering::SeqCst) > 0;
        fill.own = shard.own_writes_begun.fetch_add(1, Ordering::SeqCst) + 1;
        Some(fill)
    }

    /// The write begun with `fill` was acknowledged: the entry holds `value`
    /// unless another write of the key was seen meanwhile. `ttl` as it was written.
    pub(crate) fn wrote(&self, key: &str, fill: Fill, value: Bytes, ttl: Duration) {
        self.invalidations[index(Cause::OwnWrite)]
            .fetch_add(u64::from(self.entries.contains_key(key)), Ordering::Relaxed);
        let shard = fill.shard;
        self.finish(key, fill, value, ttl);
        self.shards[shard].own_in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// The write begun with `fill` failed (or may not have been applied): the
    /// entry goes, and its invalidation, should one come, is not taken for this write's.
    pub(crate) fn write_failed(&self, key: &str, fill: Fill) {
        self.shards[fill.shard].lock().take_own_write(&fill.server_key);
        self.forget(key, &fill.server_key);
        self.shards[fill.shard].own_in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Drops the entry of one application key (this process wrote it).
    pub(crate) fn forget(&self, key: &str, server_key: &str) {
        self.shards[shard(&self.hasher, server_key)].invalidations.fetch_add(1, Ordering::SeqCst);
        if self.entries.contains_key(key) {
            self.entries.invalidate(key);
            self.invalidations[index(Cause::OwnWrite)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops the entries of keys the server names (an invalidation message).
    // Called by the Redis tracker only.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn invalidate_server_keys<'k>(&self, server_keys: impl Iterator<Item = &'k [u8]>) {
        for server_key in server_keys {
            let Ok(server_key) = std::str::from_utf8(server_key) else { continue };
            let shard = shard(&self.hasher, server_key);
            let shard = &self.shards[shard];
            let mut state = shard.lock();
            // Invalidations of one key arrive in the order the server applied its
            // writes, and this process counted its write before sending it: the
            // one skipped is its own or one applied before it, never a later one.
            if state.take_own_write(server_key) {
                continue;
            }
            shard.invalidations.fetch_add(1, Ordering::SeqCst);
            let owner = state.owners.remove(server_key);
            drop(state);
            if let Some((key, _)) = owner {
                self.entries.invalidate(&key);
                self.invalidations[index(Cause::Server)].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn change_gate(&self, cause: Cause, change: impl FnOnce(&mut Gate) -> bool) {
        let mut gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        let was_open = gate.tracking.is_some() && !gate.suspended;
        if !change(&mut gate) {
            return;
        }
        gate.generation += 1;
        let open = gate.tracking.is_some() && !gate.suspended;
        self.published.store(gate.generation << 1 | u64::from(open), Ordering::Release);
        drop(gate);
        // The new generation already hides every entry; this frees their memory.
        self.full.store(false, Ordering::Relaxed);
        self.entries.run_pending_tasks();
        let dropped = self.entries.entry_count();
        self.entries.invalidate_all();
        for shard in self.shards.iter() {
            *shard.lock() = ShardState::default();
        }
        if was_open {
            self.invalidations[index(cause)].fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Tracking round `round` is receiving invalidations: serve from now on.
    // Called by the Redis tracker only.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn tracking_started(&self, round: u64, clients: Vec<(String, i64)>) {
        self.change_gate(Cause::Connection, |gate| {
            gate.tracking = Some(round);
            gate.rounds += 1;
            gate.clients = clients;
            true
        });
    }

    /// Tracking round `round` ended (lost, replaced, unanswered): drop everything.
    // Called by the Redis tracker only.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn tracking_lost(&self, round: u64, cause: Cause) {
        self.change_gate(cause, |gate| match gate.tracking == Some(round) {
            true => {
                gate.tracking = None;
                gate.clients.clear();
                true
            }
            false => false,
        });
    }

    /// The server flushed its keys: drop everything, keep serving.
    // Called by the Redis tracker only.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn flushed(&self) {
        self.change_gate(Cause::Topology, |_| true);
    }

    /// redis-hybrid's breaker opened (`true`) or closed (`false`).
    pub(crate) fn suspend(&self, suspended: bool) {
        self.change_gate(Cause::Breaker, |gate| std::mem::replace(&mut gate.suspended, suspended) != suspended);
    }

    pub(crate) fn stats(&self) -> NearStats {
        self.entries.run_pending_tasks();
        let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        NearStats {
            active: self.is_open(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            invalidations: Cause::ALL
                .iter()
                .map(|c| (c.label(), self.invalidations[index(*c)].load(Ordering::Relaxed)))
                .collect(),
            entries: self.entries.entry_count(),
            bytes: self.entries.weighted_size(),
            rounds: gate.rounds,
            clients: gate.clients.clone(),
        }
    }
}

fn index(cause: Cause) -> usize {
    Cause::ALL.iter().position(|c| *c == cause).unwrap_or(0)
}

fn shard(hasher: &std::hash::RandomState, server_key: &str) -> usize {
    (hasher.hash_one(server_key) as usize) % SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_store() -> Arc<Store> {
        let store = Store::new(1 << 20, Duration::from_secs(60));
        store.tracking_started(1, Vec::new());
        store
    }

    fn fill(store: &Store, key: &str, value: &'static [u8]) {
        let fill = store.begin(format!("s:{key}")).unwrap();
        store.finish(key, fill, Bytes::from_static(value), Duration::from_secs(10));
    }

    #[test]
    fn nothing_is_served_before_tracking_starts_or_after_it_is_lost() {
        let store = Store::new(1 << 20, Duration::from_secs(60));
        assert!(store.begin("s:k".into()).is_none());
        store.tracking_started(1, Vec::new());
        fill(&store, "k", b"v");
        assert_eq!(store.get("k").as_deref(), Some(&b"v"[..]));
        // A loss reported by an older round changes nothing.
        store.tracking_lost(0, Cause::Connection);
        assert!(store.get("k").is_some());
        store.tracking_lost(1, Cause::Connection);
        assert!(store.get("k").is_none());
        store.tracking_started(2, Vec::new());
        assert!(store.get("k").is_none(), "an entry of an earlier generation is never served");
    }

    #[test]
    fn an_invalidation_during_the_read_cancels_the_fill() {
        let store = open_store();
        let pending = store.begin("s:k".into()).unwrap();
        store.invalidate_server_keys([&b"s:k"[..]].into_iter());
        store.finish("k", pending, Bytes::from_static(b"old"), Duration::from_secs(10));
        assert!(store.get("k").is_none());
        // A fill that began after the invalidation is kept.
        fill(&store, "k", b"new");
        assert_eq!(store.get("k").as_deref(), Some(&b"new"[..]));
        store.invalidate_server_keys([&b"s:k"[..]].into_iter());
        assert!(store.get("k").is_none());
    }

    #[test]
    fn an_own_writes_invalidation_is_told_apart_from_later_ones() {
        let store = open_store();
        let push = |store: &Store| store.invalidate_server_keys([&b"s:k"[..]].into_iter());
        // The write's own invalidation arrives before its acknowledgement.
        let write = store.begin_write("s:k".into()).unwrap();
        push(&store);
        store.wrote("k", write, Bytes::from_static(b"mine"), Duration::from_secs(10));
        assert_eq!(store.get("k").as_deref(), Some(&b"mine"[..]));
        // Another process's later write still drops it.
        push(&store);
        assert!(store.get("k").is_none());
        // Two invalidations during one write: the second is a later write's.
        let write = store.begin_write("s:k".into()).unwrap();
        push(&store);
        push(&store);
        store.wrote("k", write, Bytes::from_static(b"mine"), Duration::from_secs(10));
        assert!(store.get("k").is_none(), "a write applied after this one was seen");
        // A failed write forgets its count: the next invalidation counts.
        fill(&store, "k", b"old");
        let write = store.begin_write("s:k".into()).unwrap();
        store.write_failed("k", write);
        assert!(store.get("k").is_none());
        fill(&store, "k", b"old");
        push(&store);
        assert!(store.get("k").is_none(), "no count is left over from the failed write");
        // A read that raced this process's write is not kept: the write's own
        // invalidation is skipped, so it cannot cancel the read.
        let read = store.begin("s:k".into()).unwrap();
        let write = store.begin_write("s:k".into()).unwrap();
        push(&store);
        store.wrote("k", write, Bytes::from_static(b"new"), Duration::from_secs(10));
        store.finish("k", read, Bytes::from_static(b"old"), Duration::from_secs(10));
        assert!(store.get("k").is_none(), "the read's older value is not kept");
        // Nor one that began while this process's write was in flight, whichever ends first.
        let write = store.begin_write("s:k".into()).unwrap();
        let read = store.begin("s:k".into()).unwrap();
        push(&store);
        store.wrote("k", write, Bytes::from_static(b"new"), Duration::from_secs(10));
        store.finish("k", read, Bytes::from_static(b"old"), Duration::from_secs(10));
        assert!(store.get("k").is_none(), "the read may have been applied before the write");
        // Two writes of the key in flight at once: neither keeps its value.
        let first = store.begin_write("s:k".into()).unwrap();
        let second = store.begin_write("s:k".into()).unwrap();
        push(&store);
        push(&store);
        store.wrote("k", second, Bytes::from_static(b"second"), Duration::from_secs(10));
        store.wrote("k", first, Bytes::from_static(b"first"), Duration::from_secs(10));
        assert!(store.get("k").is_none(), "the order they were applied in is unknown");
        // A gate change forgets counts too.
        let _write = store.begin_write("s:k".into()).unwrap();
        store.tracking_lost(1, Cause::Connection);
        store.tracking_started(2, Vec::new());
        fill(&store, "k", b"new");
        push(&store);
        assert!(store.get("k").is_none());
    }

    #[test]
    fn a_fill_that_began_before_a_gate_change_is_never_served() {
        let store = open_store();
        let pending = store.begin("s:k".into()).unwrap();
        store.suspend(true);
        store.suspend(false);
        store.finish("k", pending, Bytes::from_static(b"old"), Duration::from_secs(10));
        assert!(store.get("k").is_none());
    }

    #[test]
    fn own_writes_and_the_hybrids_breaker_drop_entries() {
        let store = open_store();
        fill(&store, "a", b"1");
        fill(&store, "b", b"2");
        store.forget("a", "s:a");
        assert!(store.get("a").is_none());
        assert!(store.get("b").is_some());
        store.suspend(true);
        assert!(store.get("b").is_none());
        assert!(store.begin("s:b".into()).is_none(), "nothing is filled while the database serves");
        let stats = store.stats();
        assert_eq!(stats.invalidations[1], ("own_write", 1));
        assert_eq!(stats.invalidations[4], ("breaker", 1));
    }

    #[test]
    fn the_byte_bound_holds() {
        let store = Store::new(64 * 1024, Duration::from_secs(60));
        store.tracking_started(1, Vec::new());
        for i in 0..2_000 {
            let fill = store.begin(format!("s:{i}")).unwrap();
            store.finish(&i.to_string(), fill, Bytes::from(vec![7u8; 1024]), Duration::from_secs(10));
        }
        let stats = store.stats();
        assert!(stats.bytes <= 64 * 1024, "{stats:?}");
        let indexed: usize = store.shards.iter().map(|s| s.lock().owners.len()).sum();
        assert!(indexed as u64 <= stats.entries + 8, "the reverse index follows evictions: {indexed} for {stats:?}");
    }

    #[test]
    fn once_full_misses_fill_as_often_as_reads_hit() {
        let store = Store::new(64 * 1024, Duration::from_secs(60));
        store.tracking_started(1, Vec::new());
        let mut i = 0;
        while store.miss_fills() {
            let fill = store.begin(format!("s:{i}")).unwrap();
            store.finish(&i.to_string(), fill, Bytes::from(vec![7u8; 1024]), Duration::from_secs(10));
            store.entries.run_pending_tasks();
            i += 1;
            assert!(i < 10_000, "the cache never filled");
        }
        // No hits at all: after the next measurement, about 1 miss in 64 fills.
        let fills = |n: usize| (0..n).filter(|_| store.miss_fills()).count();
        fills(4096);
        let rare = fills(4096);
        assert!((16..=256).contains(&rare), "{rare} of 4096 misses filled with no hits");
        // Every read a hit: nearly every miss fills again.
        store.hits.fetch_add(1 << 20, std::sync::atomic::Ordering::Relaxed);
        fills(4096);
        let often = fills(4096);
        assert!(often > 3900, "{often} of 4096 misses filled with a hit ratio near 1");
    }

    #[test]
    fn an_entry_lives_at_most_the_ttl_max() {
        let store = Store::new(1 << 20, Duration::from_millis(50));
        store.tracking_started(1, Vec::new());
        fill(&store, "k", b"v");
        assert!(store.get("k").is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(store.get("k").is_none());
    }
}
