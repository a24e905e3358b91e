//! The adapter: memcached's meta protocol through the `memcache` crate's async client.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use memcache::exp::{AsyncMetaClient, Delete, Error as McError, Get, Meta, MutationStatus, Operation, Router, Set};
use tokio::sync::OnceCell;

use super::PROVIDER;
use super::keys::{StableRendezvous, wire_key};
use crate::cache::{CacheService, Capabilities, Sampled, Ttl, counter};
use crate::env::HostPort;
use crate::error::{Error, ErrorKind, Result};

/// The most keys one pipelined batch to one server carries; larger batches are split.
const MAX_BATCH: usize = 512;
/// Memcached treats expiry times up to 30 days as relative, larger ones as Unix time.
const MAX_RELATIVE_SECS: u64 = 30 * 24 * 3600;
/// Room for memcached's per-item header, key and CAS within the item size limit.
const ITEM_OVERHEAD: usize = 128;

/// The memcached adapter: keys are placed on one of the configured servers.
pub struct MemcachedCache {
    shards: Vec<Shard>,
    /// The configured `host:port` of each shard: what keys are placed by.
    ids: Vec<String>,
    max_item_bytes: usize,
}

/// One server, connected on first use. A server whose name does not resolve yet
/// is a server that is down: its keys fail, the others work, and it is tried
/// again at every call until it resolves.
struct Shard {
    id: String,
    client: OnceCell<AsyncMetaClient>,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl Shard {
    async fn client(&self) -> Result<&AsyncMetaClient> {
        self.client
            .get_or_try_init(|| {
                AsyncMetaClient::builder()
                    .connect_timeout(Some(self.connect_timeout))
                    .io_timeout(Some(self.command_timeout))
                    .connect_multiple_async([self.id.clone()])
            })
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Connection, format!("server {} cannot be reached: {e}", self.id))
                    .with_provider(PROVIDER.name)
            })
    }
}

impl MemcachedCache {
    /// Connects to nothing yet: each server is resolved and dialed at first use.
    pub async fn connect(
        servers: &[HostPort],
        connect_timeout: Duration,
        command_timeout: Duration,
        max_item_bytes: usize,
    ) -> Result<Self> {
        if servers.is_empty() {
            return Err(Error::new(ErrorKind::Config, "MEMCACHED_SERVERS lists no server"));
        }
        let ids: Vec<String> = servers.iter().map(ToString::to_string).collect();
        let shards = ids
            .iter()
            .map(|id| Shard { id: id.clone(), client: OnceCell::new(), connect_timeout, command_timeout })
            .collect();
        Ok(MemcachedCache { shards, ids, max_item_bytes })
    }

    fn fits(&self, wire_key: &str, value: &[u8]) -> Result<()> {
        if value.len() + wire_key.len() + ITEM_OVERHEAD <= self.max_item_bytes {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!(
                "a value of {} bytes does not fit memcached's item size limit of {} bytes \
                 (MEMCACHED_MAX_ITEM_BYTES; raise the server's -I to store larger values)",
                value.len(),
                self.max_item_bytes
            ),
        )
        .with_provider(PROVIDER.name))
    }

    /// The positions of `wire_keys` grouped by the server that holds them, each
    /// group at most [`MAX_BATCH`] keys.
    fn batches(&self, wire_keys: &[String]) -> Vec<(usize, Vec<usize>)> {
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, key) in wire_keys.iter().enumerate() {
            let shard = StableRendezvous.route(key.as_bytes(), &self.ids);
            match groups.iter_mut().rev().find(|(s, g)| *s == shard && g.len() < MAX_BATCH) {
                Some((_, group)) => group.push(i),
                None => groups.push((shard, vec![i])),
            }
        }
        groups
    }

    /// Runs one operation per key, pipelined per server, the servers at once;
    /// each key's result in the order of `wire_keys`.
    async fn run_batched<O: Operation>(
        &self,
        wire_keys: &[String],
        operation: impl Fn(usize) -> O,
    ) -> Result<Vec<O::Output>> {
        let groups = self.batches(wire_keys);
        let answers = futures::future::try_join_all(groups.iter().map(|(shard, positions)| {
            let operations: Vec<O> = positions.iter().map(|&i| operation(i)).collect();
            async move {
                let client = self.shards[*shard].client().await?;
                let results = client.run_many(operations).await.map_err(map_error)?;
                results.into_iter().map(|r| r.map_err(map_error)).collect::<Result<Vec<_>>>()
            }
        }))
        .await?;
        let mut outputs: Vec<Option<O::Output>> = (0..wire_keys.len()).map(|_| None).collect();
        for ((_, positions), answer) in groups.iter().zip(answers) {
            for (&i, output) in positions.iter().zip(answer) {
                outputs[i] = Some(output);
            }
        }
        outputs.into_iter().map(|o| o.ok_or_else(|| Error::new(ErrorKind::Backend, "a batch lost an answer"))).collect()
    }

    /// The CAS of the stored value, when the key holds exactly `expected`.
    async fn cas_if_holds(&self, wire_key: &str, expected: &[u8]) -> Result<Option<u64>> {
        let result = self
            .client(wire_key)
            .await?
            .get(wire_key.as_bytes())
            .meta(Meta::default().cas())
            .send()
            .await
            .map_err(map_error)?;
        Ok(match (result.hit(), result.value, result.item.cas) {
            (true, Some(value), Some(cas)) if value == expected => Some(cas),
            _ => None,
        })
    }

    /// The client of the server that holds `key`.
    async fn client(&self, key: &str) -> Result<&AsyncMetaClient> {
        self.shards[StableRendezvous.route(key.as_bytes(), &self.ids)].client().await
    }
}

/// The expiry to send for `ttl`. Memcached's clock ticks once a second, so an item
/// stored with N seconds lives between N-1 and N; one second more guarantees at
/// least the TTL asked for (and at most one second beyond it).
fn wire_ttl(ttl: Ttl) -> u32 {
    let secs = ttl.as_secs_ceil() + 1;
    let wire = if secs > MAX_RELATIVE_SECS {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + secs
    } else {
        secs
    };
    u32::try_from(wire).unwrap_or(u32::MAX)
}

/// The value a read found; a miss (or a placeholder being filled) is none.
fn hit_value(result: memcache::exp::GetResult) -> Option<Bytes> {
    if result.hit() { result.value.map(Bytes::from) } else { None }
}

fn map_error(e: McError) -> Error {
    Error::backend(PROVIDER.name, kind_of(&e), e)
}

fn kind_of(e: &McError) -> ErrorKind {
    match e {
        McError::Timeout { .. } => ErrorKind::Timeout,
        McError::Io(_) => ErrorKind::Connection,
        // The client wraps any failure of a written command with side effects; the
        // server's own answer inside still says what happened.
        McError::Ambiguous { source, .. } => match source.as_ref() {
            inner @ (McError::Rejected(_) | McError::Server(_) | McError::Timeout { .. }) => kind_of(inner),
            _ => ErrorKind::Connection,
        },
        McError::Rejected(msg) if msg.contains("non-numeric") => ErrorKind::NotAnInteger,
        McError::Server(msg) if msg.contains("too large") => ErrorKind::ValueTooLarge,
        // Keys and sizes are made acceptable before anything is sent: what the
        // client or the server still refuses is pal's own call, not the data.
        McError::Usage(_) | McError::Rejected(_) => ErrorKind::Usage,
        _ => ErrorKind::Backend,
    }
}

#[async_trait]
impl CacheService for MemcachedCache {
    fn provider(&self) -> &'static str {
        PROVIDER.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { max_value_bytes: Some(self.max_item_bytes), ..PROVIDER.capabilities }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let key = wire_key(key);
        let result = self.client(&key).await?.get(key.as_bytes()).send().await.map_err(map_error)?;
        Ok(hit_value(result))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let key = wire_key(key);
        self.fits(&key, &value)?;
        let result = self
            .client(&key)
            .await?
            .set(key.as_bytes(), &value)
            .ttl_raw(wire_ttl(ttl))
            .send()
            .await
            .map_err(map_error)?;
        match result.status {
            MutationStatus::Applied => Ok(()),
            other => {
                Err(Error::new(ErrorKind::Backend, format!("set was not stored ({other:?})"))
                    .with_provider(PROVIDER.name))
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let key = wire_key(key);
        let result = self.client(&key).await?.delete(key.as_bytes()).send().await.map_err(map_error)?;
        Ok(result.status == MutationStatus::Applied)
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        let Ok(delta) = u64::try_from(by) else {
            return Err(Error::unsupported(
                PROVIDER.name,
                "memcached counters are unsigned: incr with a negative amount is not supported",
            ));
        };
        // `ma` with N (create on miss, with this TTL) and J (the initial value) is one
        // atomic server-side operation; an existing counter keeps its TTL. A created
        // counter starts at J without the delta applied, hence J = delta.
        let key = wire_key(key);
        let result = self
            .client(&key)
            .await?
            .increment(key.as_bytes())
            .delta(delta)
            .initial(delta, wire_ttl(ttl_on_create))
            .send()
            .await
            .map_err(|e| match map_error(e) {
                // The same words on every provider rather than the client's report,
                // which names the key.
                e if e.kind() == ErrorKind::NotAnInteger => counter::not_an_integer().with_provider(PROVIDER.name),
                e => e,
            })?;
        let value = result.value.ok_or_else(|| {
            Error::new(ErrorKind::Backend, format!("incr returned no value ({:?})", result.status))
                .with_provider(PROVIDER.name)
        })?;
        i64::try_from(value).map_err(|_| {
            // memcached counts on in unsigned space: the server holds the result.
            Error::new(
                ErrorKind::NotAnInteger,
                format!(
                    "counter overflowed: memcached counted past {}, the largest 64-bit integer, and holds {value} \
                     now, which pal cannot return (delete it, or let it expire, to count again)",
                    i64::MAX
                ),
            )
            .with_provider(PROVIDER.name)
        })
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let key = wire_key(key);
        let result = self
            .client(&key)
            .await?
            .get(key.as_bytes())
            .touch_raw(wire_ttl(ttl))
            .without_value()
            .send()
            .await
            .map_err(map_error)?;
        Ok(result.hit())
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let wire: Vec<String> = keys.iter().map(|k| wire_key(k).into_owned()).collect();
        let results = self.run_batched(&wire, |i| Get::new(wire[i].as_bytes())).await?;
        Ok(results.into_iter().map(hit_value).collect())
    }

    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let wire: Vec<String> = entries.iter().map(|(k, _)| wire_key(k).into_owned()).collect();
        for (key, (_, value)) in wire.iter().zip(entries) {
            self.fits(key, value)?;
        }
        let ttl = wire_ttl(ttl);
        let results = self.run_batched(&wire, |i| Set::new(wire[i].as_bytes(), &entries[i].1[..]).ttl_raw(ttl)).await?;
        match results.iter().find(|r| r.status != MutationStatus::Applied) {
            None => Ok(()),
            Some(r) => Err(Error::new(ErrorKind::Backend, format!("set was not stored ({:?})", r.status))
                .with_provider(PROVIDER.name)),
        }
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let mut wire: Vec<String> = keys.iter().map(|k| wire_key(k).into_owned()).collect();
        wire.sort_unstable();
        wire.dedup();
        let results = self.run_batched(&wire, |i| Delete::new(wire[i].as_bytes())).await?;
        Ok(results.iter().filter(|r| r.status == MutationStatus::Applied).count() as u64)
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let key = wire_key(key);
        self.fits(&key, &value)?;
        let result = self
            .client(&key)
            .await?
            .set(key.as_bytes(), &value)
            .add()
            .ttl_raw(wire_ttl(ttl))
            .send()
            .await
            .map_err(map_error)?;
        Ok(result.status == MutationStatus::Applied)
    }

    /// A read of the value and its CAS, then a delete that applies only while the
    /// CAS is unchanged: atomic against any writer in between.
    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let key = wire_key(key);
        let Some(cas) = self.cas_if_holds(&key, expected).await? else { return Ok(false) };
        let result =
            self.client(&key).await?.delete(key.as_bytes()).compare_cas(cas).send().await.map_err(map_error)?;
        Ok(result.status == MutationStatus::Applied)
    }

    /// As `delete_if`: the value is stored again with the new TTL only while its
    /// CAS is unchanged (memcached's touch takes no CAS).
    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        let key = wire_key(key);
        let Some(cas) = self.cas_if_holds(&key, expected).await? else { return Ok(false) };
        let result = self
            .client(&key)
            .await?
            .set(key.as_bytes(), expected)
            .compare_cas(cas)
            .ttl_raw(wire_ttl(ttl))
            .send()
            .await
            .map_err(map_error)?;
        Ok(result.status == MutationStatus::Applied)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let key = wire_key(key);
        let result = self
            .client(&key)
            .await?
            .get(key.as_bytes())
            .meta(Meta::default().ttl())
            .without_value()
            .no_lru_bump()
            .send()
            .await
            .map_err(map_error)?;
        if !result.hit() {
            return Ok(None);
        }
        Ok(Some(match result.item.ttl {
            Some(secs) if secs >= 0 => Duration::from_secs((secs as u64).saturating_sub(1)),
            _ => Duration::MAX,
        }))
    }

    /// Keys from each server's `lru_crawler metadump` (see `sample.rs`), then a get
    /// of each. `None` when no server can list its keys.
    async fn sample(&self, prefix: &str, limit: usize) -> Result<Option<Sampled>> {
        let share = limit.div_ceil(self.shards.len());
        let dumps =
            futures::future::join_all(self.shards.iter().map(|shard| {
                super::sample::keys(&shard.id, prefix, share, shard.connect_timeout + shard.command_timeout)
            }))
            .await;
        let mut keys = Vec::new();
        let mut listed = false;
        for dump in dumps {
            if let Some(found) = dump? {
                listed = true;
                keys.extend(found);
            }
        }
        if !listed {
            return Ok(None);
        }
        let values = futures::future::join_all(keys.iter().map(|key| self.get(key))).await;
        let mut sampled = Vec::with_capacity(keys.len());
        for (key, value) in keys.into_iter().zip(values) {
            if let Some(value) = value? {
                sampled.push((key, value));
            }
        }
        Ok(Some(sampled))
    }

    /// Healthy when every server answers; otherwise the error names the servers
    /// that do not.
    async fn ping(&self) -> Result<()> {
        let pings = self.shards.iter().map(|shard| async move {
            let answer = match shard.client().await {
                Ok(client) => client.noop().await.map_err(map_error),
                Err(e) => Err(e),
            };
            answer.err().map(|e| (shard.id.clone(), e))
        });
        let down: Vec<(String, Error)> = futures::future::join_all(pings).await.into_iter().flatten().collect();
        match down.first() {
            None => Ok(()),
            Some((_, first)) => {
                let servers =
                    down.iter().map(|(id, e)| format!("{id}: {}", e.message())).collect::<Vec<_>>().join("; ");
                Err(Error::new(
                    first.kind(),
                    format!("{} of {} servers down: {servers}", down.len(), self.shards.len()),
                )
                .with_provider(PROVIDER.name))
            }
        }
    }

    /// The client speaks plain TCP only (`MEMCACHED_TLS=true` is refused at start-up).
    async fn transport(&self) -> Result<crate::tls::Transport> {
        Ok(crate::tls::Transport::Plaintext)
    }
}
