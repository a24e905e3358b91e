//! The adapter over redis-rs. Every command is single-key, or (batches) carries
//! keys of one hash slot, so everything holds in cluster mode; every call is
//! bounded by `REDIS_COMMAND_TIMEOUT_MS`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::cluster_routing::Slot;
use redis::{Cmd, RedisError, ServerErrorKind, cmd, pipe};

use super::address::{RedisTls, RedisTopology, Timeouts};
use super::connection::Topology;
use super::request::Request;
use crate::cache::{CacheProvider, CacheService, Capabilities, Sampled, Ttl, counter, distinct};
use crate::error::{Error, ErrorKind, Result};
use crate::tls::Transport;

/// The adapter over redis-rs, for a standalone server, Sentinel or Cluster.
pub struct RedisCache {
    /// `redis`, or another provider that speaks its protocol (`keydb`).
    provider: &'static CacheProvider,
    topology: Topology,
    /// An outer bound on every call, covering reconnects and master resolution too.
    deadline: Duration,
    transport: Transport,
}

impl RedisCache {
    /// Builds the adapter without connecting: connection problems surface at first use.
    /// `provider` is the declaration it reports as its own (`redis` or `keydb`).
    pub fn new(provider: &'static CacheProvider, topology: &RedisTopology, timeouts: Timeouts) -> Result<Self> {
        Self::with_tls(provider, topology, timeouts, &RedisTls::default())
    }

    /// As [`new`](Self::new), with certificates for its TLS connections.
    pub fn with_tls(
        provider: &'static CacheProvider,
        topology: &RedisTopology,
        timeouts: Timeouts,
        tls: &RedisTls,
    ) -> Result<Self> {
        Ok(RedisCache {
            provider,
            topology: Topology::build(topology, &timeouts, tls)?,
            deadline: timeouts.connect + timeouts.command,
            transport: topology.transport(tls),
        })
    }

    async fn send<T: redis::FromRedisValue>(&self, request: Request<'_>) -> Result<T> {
        // A timer per call is a measurable share of a cache hit: skip it where the
        // driver's own connect and response timeouts already bound the call.
        if self.topology.bounded_by_driver() {
            return self.topology.send(request).await.map_err(|e| self.map_error(e));
        }
        match tokio::time::timeout(self.deadline, self.topology.send(request)).await {
            Ok(result) => result.map_err(|e| self.map_error(e)),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "no answer within {} ms (REDIS_CONNECT_TIMEOUT_MS + REDIS_COMMAND_TIMEOUT_MS)",
                    self.deadline.as_millis()
                ),
            )
            .with_provider(self.provider.name)),
        }
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        self.send(Request::Cmd(cmd)).await
    }
}

impl RedisCache {
    fn map_error(&self, e: RedisError) -> Error {
        if e.kind() == redis::ErrorKind::MasterNameNotFoundBySentinel
            && let Some(master) = self.topology.sentinel_master()
        {
            let why =
                format!("no sentinel of REDIS_SENTINEL_NODES knows a master named {master:?} (REDIS_SENTINEL_MASTER)");
            return Error::new(ErrorKind::Connection, why).with_provider(self.provider.name);
        }
        // A cluster node answers a standalone client's keys of other nodes' slots
        // with MOVED: only cluster mode follows it.
        if e.kind() == redis::ErrorKind::Server(ServerErrorKind::Moved) && self.topology.is_standalone() {
            let moved = e.detail().map(|d| format!(" (it answered MOVED {d})")).unwrap_or_default();
            return Error::new(ErrorKind::Config, cluster_node(&moved)).with_provider(self.provider.name);
        }
        map_error(self.provider.name, e)
    }
}

/// What to do when `REDIS_URL` names a node of a Redis Cluster.
fn cluster_node(evidence: &str) -> String {
    format!(
        "REDIS_URL: this Redis is a Cluster node{evidence}: set REDIS_CLUSTER_ENABLED=true and list the cluster's \
         nodes in REDIS_CLUSTER_NODES (host:port,host:port,…); REDIS_URL then gives only credentials and TLS"
    )
}

fn map_error(provider: &'static str, e: RedisError) -> Error {
    use redis::ErrorKind as K;
    let kind = match e.kind() {
        _ if e.is_timeout() => ErrorKind::Timeout,
        _ if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() => ErrorKind::Connection,
        K::Server(
            ServerErrorKind::ClusterDown
            | ServerErrorKind::TryAgain
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        ) => ErrorKind::Connection,
        K::ClusterConnectionNotFound | K::MasterNameNotFoundBySentinel | K::EmptySentinelList => ErrorKind::Connection,
        // pal's own message (a scheme that does not match the server) says it all.
        K::InvalidClientConfig if let Some(own) = e.detail().filter(|d| d.starts_with("REDIS_URL:")) => {
            return Error::new(ErrorKind::Config, own).with_provider(provider);
        }
        K::InvalidClientConfig => ErrorKind::Config,
        _ if is_integer_error(&e) => ErrorKind::NotAnInteger,
        _ => ErrorKind::Backend,
    };
    Error::backend(provider, kind, e)
}

/// INCRBY's refusals; inside MULTI they arrive wrapped in a pipeline error, so the
/// whole rendering is searched rather than the top-level detail.
fn is_integer_error(e: &RedisError) -> bool {
    let text = e.to_string();
    text.contains("not an integer") || text.contains("would overflow")
}

/// The most keys one command of a batch carries: a larger batch is split, so no
/// command holds the server (single-threaded) or the multiplexed connection long.
const MAX_BATCH: usize = 512;

impl RedisCache {
    /// The positions of `keys`, in batches one command can carry: all keys
    /// together on one server, and in a Cluster those of each hash slot (a
    /// multi-key command must stay within one), each batch at most [`MAX_BATCH`].
    fn batches<'k>(&self, keys: impl ExactSizeIterator<Item = &'k str>) -> Vec<Vec<usize>> {
        if !self.topology.is_cluster() {
            let all: Vec<usize> = (0..keys.len()).collect();
            return all.chunks(MAX_BATCH).map(<[usize]>::to_vec).collect();
        }
        let mut groups: Vec<Vec<usize>> = Vec::new();
        // The group each slot's keys go to now.
        let mut open: HashMap<Slot, usize> = HashMap::new();
        for (i, key) in keys.enumerate() {
            let slot = Slot::for_key(key);
            match open.get(&slot) {
                Some(&g) if groups[g].len() < MAX_BATCH => groups[g].push(i),
                _ => {
                    open.insert(slot, groups.len());
                    groups.push(vec![i]);
                }
            }
        }
        groups
    }
}

fn millis(ttl: Ttl) -> u64 {
    ttl.as_millis_ceil()
}

#[async_trait]
impl CacheService for RedisCache {
    fn provider(&self) -> &'static str {
        self.provider.name
    }

    fn capabilities(&self) -> Capabilities {
        self.provider.capabilities
    }

    async fn transport(&self) -> Result<Transport> {
        Ok(self.transport.clone())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.query(cmd("GET").arg(key)).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.query(cmd("SET").arg(key).arg(&value[..]).arg("PX").arg(millis(ttl))).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        // UNLINK frees large values off the server's main thread.
        Ok(self.query::<i64>(cmd("UNLINK").arg(key)).await? > 0)
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        // One round trip, atomic: SET NX creates the counter with its TTL only when it
        // is missing, and INCRBY never touches the TTL. A non-integer value fails the
        // INCRBY and, the key existing, the SET NX did nothing.
        let mut pipeline = pipe();
        pipeline
            .atomic()
            .cmd("SET")
            .arg(key)
            .arg(0)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl_on_create))
            .ignore()
            .cmd("INCRBY")
            .arg(key)
            .arg(by);
        let (value,): (i64,) = self.send(Request::Pipe(&pipeline)).await.map_err(|e| match e.kind() {
            // The same words on every provider rather than the server's pipeline report.
            ErrorKind::NotAnInteger if e.message().contains("overflow") => {
                counter::overflow(by).with_provider(self.provider.name)
            }
            ErrorKind::NotAnInteger => counter::not_an_integer().with_provider(self.provider.name),
            _ => e,
        })?;
        Ok(value)
    }

    /// `GET` and `PTTL` in one pipeline.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Bytes, Duration)>> {
        let mut pipeline = pipe();
        pipeline.cmd("GET").arg(key).cmd("PTTL").arg(key);
        let (value, left): (Option<Bytes>, i64) = self.send(Request::Pipe(&pipeline)).await?;
        Ok(match (value, left) {
            (Some(value), -1) => Some((value, Duration::MAX)),
            // Expired between the two commands.
            (Some(_), -2) | (None, _) => None,
            (Some(value), ms) => Some((value, Duration::from_millis(ms.max(0) as u64))),
        })
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        Ok(self.query::<i64>(cmd("PEXPIRE").arg(key).arg(millis(ttl))).await? == 1)
    }

    /// One MGET per batch of keys that one server holds (all of them, but in a
    /// Cluster), the batches sent at once.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let groups = self.batches(keys.iter().copied());
        let answers = futures::future::try_join_all(groups.iter().map(|positions| {
            let mut mget = cmd("MGET");
            for &i in positions {
                mget.arg(keys[i]);
            }
            async move { self.query::<Vec<Option<Bytes>>>(&mget).await }
        }))
        .await?;
        let mut values = vec![None; keys.len()];
        for (positions, answer) in groups.iter().zip(answers) {
            for (&i, value) in positions.iter().zip(answer) {
                values[i] = value;
            }
        }
        Ok(values)
    }

    /// A pipeline of SETs per batch of keys one server holds, in order, so the
    /// later of two values of one key is the one kept.
    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let groups = self.batches(entries.iter().map(|(k, _)| *k));
        futures::future::try_join_all(groups.iter().map(|positions| {
            let mut pipeline = pipe();
            for &i in positions {
                let (key, value) = &entries[i];
                pipeline.cmd("SET").arg(*key).arg(&value[..]).arg("PX").arg(millis(ttl)).ignore();
            }
            async move { self.send::<()>(Request::Pipe(&pipeline)).await }
        }))
        .await
        .map(drop)
    }

    /// One UNLINK of the distinct keys per batch one server holds.
    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let distinct = distinct(keys);
        let groups = self.batches(distinct.iter().copied());
        let removed = futures::future::try_join_all(groups.iter().map(|positions| {
            let mut unlink = cmd("UNLINK");
            for &i in positions {
                unlink.arg(distinct[i]);
            }
            async move { self.query::<u64>(&unlink).await }
        }))
        .await?;
        Ok(removed.into_iter().sum())
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let set = cmd("SET").arg(key).arg(&value[..]).arg("NX").arg("PX").arg(millis(ttl)).to_owned();
        Ok(self.query::<Option<String>>(&set).await?.is_some())
    }

    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
        Ok(self.query::<i64>(cmd("EVAL").arg(script).arg(1).arg(key).arg(expected)).await? == 1)
    }

    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        let script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
                      return 0";
        let eval = cmd("EVAL").arg(script).arg(1).arg(key).arg(expected).arg(millis(ttl)).to_owned();
        Ok(self.query::<i64>(&eval).await? == 1)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        Ok(match self.query::<i64>(cmd("PTTL").arg(key)).await? {
            -2 => None,
            // A key written without an expiry by something other than pal.
            -1 => Some(Duration::MAX),
            ms => Some(Duration::from_millis(ms.max(0) as u64)),
        })
    }

    /// A standalone client pointed at a Cluster node works for the node's own slots
    /// and fails for the others: say so before any key fails. Whether the server
    /// answers at all is for the health probe to say.
    async fn check_configuration(&self) -> Result<Vec<String>> {
        if !self.topology.is_standalone() {
            return Ok(Vec::new());
        }
        match self.query::<String>(cmd("INFO").arg("cluster")).await {
            Ok(info) if info.lines().any(|l| l.trim() == "cluster_enabled:1") => {
                Err(Error::new(ErrorKind::Config, cluster_node("")).with_provider(self.provider.name))
            }
            Err(e) if e.kind() == ErrorKind::Config => Err(e),
            _ => Ok(Vec::new()),
        }
    }

    /// SCAN within `prefix` (see `sample.rs`), then a GET of each key found; a key
    /// that expired in between is left out.
    async fn sample(&self, prefix: &str, limit: usize) -> Result<Option<Sampled>> {
        let keys = self.topology.scan(prefix, limit, self.deadline).await.map_err(|e| self.map_error(e))?;
        let values = futures::future::join_all(keys.iter().map(|key| self.get(key))).await;
        let mut sampled = Vec::with_capacity(keys.len());
        for (key, value) in keys.into_iter().zip(values) {
            if let Some(value) = value? {
                sampled.push((key, value));
            }
        }
        Ok(Some(sampled))
    }

    async fn ping(&self) -> Result<()> {
        let pong: String = self.query(&cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Backend, format!("unexpected PING reply {pong:?}"))
                .with_provider(self.provider.name))
        }
    }
}
