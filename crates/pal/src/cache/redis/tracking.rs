//! The near cache's invalidation messages: one RESP3 connection per master in
//! `CLIENT TRACKING ON BCAST` mode (with `CACHE_KEY_PREFIX` as its prefix), apart
//! from the connection that carries commands.
//!
//! Broadcast mode on a connection of its own, rather than default-mode tracking
//! of the keys the data connection reads: it works the same for a standalone
//! server, Sentinel and a Cluster (whose data connections redis-rs manages and
//! pal cannot set tracking on), costs the server no per-key table, and leaves the
//! hot connection as it is. Messages of the two connections are not ordered with
//! each other, which the near cache's fill protocol allows for (see its store).
//!
//! Every way a message could be missed ends the round and drops everything: the
//! connection lost (redis-rs reports it as a push), a heartbeat (`ROLE`, every
//! [`HEARTBEAT`]) unanswered within `REDIS_COMMAND_TIMEOUT_MS` — a server that
//! hangs —, a master demoted, and the master set changed (a Sentinel failover, a
//! Cluster's new master). So the longest a missed message can go unnoticed is
//! [`HEARTBEAT`] plus the command timeout.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{Client, ConnectionAddr, ConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use redis::{RedisResult, TlsCertificates, Value, cmd};
use tokio::sync::Notify;

use super::address::{RedisServer, Timeouts};
use super::connection::{TrackingSource, node_info, tracking_source};
use super::reconnect::connection_config;
use crate::cache::near::{Cause, Store};
use crate::error::{Error, ErrorKind, Result};

/// How often each tracked master is asked whether it still is one.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(500);

/// The running tracker; dropping it stops it.
pub(crate) struct TrackingTask(tokio::task::JoinHandle<()>);

impl Drop for TrackingTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts telling `store` what changes on `server` under `prefix`. It serves
/// nothing until the first round's connections track.
pub(crate) fn start(server: &RedisServer, prefix: &str, store: Arc<Store>) -> Result<TrackingTask> {
    let topology = server
        .topology
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::Config, "the near cache needs a Redis server to track"))?;
    let (source, certs) = tracking_source(topology, &server.tls)?;
    let tracker = Tracker { source, certs, prefix: prefix.to_string(), timeouts: server.timeouts, store };
    Ok(TrackingTask(tokio::spawn(tracker.run())))
}

struct Tracker {
    source: TrackingSource,
    certs: Option<TlsCertificates>,
    prefix: String,
    timeouts: Timeouts,
    store: Arc<Store>,
}

struct Tracked {
    conn: MultiplexedConnection,
    addr: String,
    id: i64,
}

impl Tracker {
    async fn run(mut self) {
        let mut failures: u32 = 0;
        for round in 1u64.. {
            let lost = Arc::new(Notify::new());
            let bound = self.timeouts.connect + self.timeouts.command;
            match tokio::time::timeout(bound, self.connect(round, &lost)).await {
                Ok(Ok(mut tracked)) => {
                    self.store.tracking_started(round, tracked.iter().map(|t| (t.addr.clone(), t.id)).collect());
                    let addrs: Vec<&str> = tracked.iter().map(|t| t.addr.as_str()).collect();
                    tracing::info!(servers = ?addrs, "near cache: tracking, serving from memory");
                    failures = 0;
                    let cause = self.watch(&mut tracked, &lost).await;
                    self.store.tracking_lost(round, cause);
                    tracing::warn!(
                        cause = cause.label(),
                        "near cache: tracking ended, entries dropped, reads go to the server"
                    );
                }
                Ok(Err(e)) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, "near cache: cannot track (reads go to the server until it can)");
                    }
                    failures += 1;
                }
                Err(_) => {
                    if failures == 0 {
                        tracing::warn!("near cache: no tracking connection within the Redis timeouts");
                    }
                    failures += 1;
                }
            }
            let backoff = Duration::from_millis(50u64 << failures.min(5)).min(Duration::from_secs(2));
            tokio::time::sleep(backoff).await;
        }
    }

    /// The masters to track now.
    async fn masters(&mut self) -> RedisResult<Vec<ConnectionInfo>> {
        match &mut self.source {
            TrackingSource::Direct(info) => Ok(vec![(**info).clone()]),
            TrackingSource::Sentinel(sentinel) => {
                Ok(vec![sentinel.async_get_client().await?.get_connection_info().clone()])
            }
            TrackingSource::Cluster(seeds) => {
                let mut last = None;
                for seed in seeds.iter() {
                    match cluster_masters(seed, self.certs.as_ref(), self.timeouts).await {
                        Ok(masters) => return Ok(masters),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| std::io::Error::other("REDIS_CLUSTER_NODES is empty").into()))
            }
        }
    }

    async fn connect(&mut self, round: u64, lost: &Arc<Notify>) -> RedisResult<Vec<Tracked>> {
        let mut tracked = Vec::new();
        for info in self.masters().await? {
            let addr = info.addr().to_string();
            let store = self.store.clone();
            let lost = lost.clone();
            let config = connection_config(self.timeouts).set_push_sender(move |push: PushInfo| {
                on_push(&store, round, &lost, push);
                Ok::<(), Infallible>(())
            });
            let mut conn =
                client(info, self.certs.as_ref())?.get_multiplexed_async_connection_with_config(&config).await?;
            let mut tracking = cmd("CLIENT");
            tracking.arg("TRACKING").arg("ON").arg("BCAST");
            if !self.prefix.is_empty() {
                tracking.arg("PREFIX").arg(&self.prefix);
            }
            let mut setup = redis::pipe();
            setup.cmd("CLIENT").arg("SETNAME").arg("pal-near-cache").ignore().add_command(tracking).ignore();
            setup.cmd("CLIENT").arg("ID");
            let (id,): (i64,) = setup.query_async(&mut conn).await?;
            tracked.push(Tracked { conn, addr, id });
        }
        Ok(tracked)
    }

    /// Until a message may have been missed: returns why.
    async fn watch(&mut self, tracked: &mut [Tracked], lost: &Notify) -> Cause {
        loop {
            tokio::select! {
                () = lost.notified() => return Cause::Connection,
                () = tokio::time::sleep(HEARTBEAT) => {}
            }
            for t in tracked.iter_mut() {
                match tokio::time::timeout(self.timeouts.command, cmd("ROLE").query_async::<Value>(&mut t.conn)).await {
                    Ok(Ok(role)) if is_master(&role) => {}
                    Ok(Ok(_)) => return Cause::Topology,
                    _ => return Cause::Connection,
                }
            }
            if matches!(self.source, TrackingSource::Direct(_)) {
                continue;
            }
            // Another master named now (a failover seen by the sentinels, a new
            // cluster master): its writes would never reach these connections.
            if let Ok(Ok(masters)) = tokio::time::timeout(self.timeouts.command, self.masters()).await {
                let mut now: Vec<String> = masters.iter().map(|m| m.addr().to_string()).collect();
                let mut was: Vec<String> = tracked.iter().map(|t| t.addr.clone()).collect();
                now.sort();
                was.sort();
                if now != was {
                    return Cause::Topology;
                }
            }
        }
    }
}

/// A RESP3 client (invalidations are pushes) for `info`, with TLS where it says so.
fn client(info: ConnectionInfo, certs: Option<&TlsCertificates>) -> RedisResult<Client> {
    let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
    let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
    let info = info.set_redis_settings(settings);
    match (certs, tls) {
        (Some(certs), true) => Client::build_with_tls(info, certs.clone()),
        _ => Client::open(info),
    }
}

fn on_push(store: &Store, round: u64, lost: &Notify, push: PushInfo) {
    match push.kind {
        PushKind::Invalidate => match push.data.first() {
            Some(Value::Array(keys)) => store.invalidate_server_keys(keys.iter().filter_map(|k| match k {
                Value::BulkString(name) => Some(name.as_slice()),
                _ => None,
            })),
            // FLUSHALL / FLUSHDB: a null instead of the keys.
            _ => store.flushed(),
        },
        PushKind::Disconnection => {
            store.tracking_lost(round, Cause::Connection);
            lost.notify_one();
        }
        _ => {}
    }
}

fn is_master(role: &Value) -> bool {
    match role {
        Value::Array(parts) => {
            matches!(parts.first(), Some(Value::BulkString(r)) if r == b"master")
                || matches!(parts.first(), Some(Value::SimpleString(r)) if r == "master")
        }
        _ => false,
    }
}

/// The masters `CLUSTER SLOTS` names, asked of `seed`.
async fn cluster_masters(
    seed: &ConnectionInfo,
    certs: Option<&TlsCertificates>,
    timeouts: Timeouts,
) -> RedisResult<Vec<ConnectionInfo>> {
    let mut conn =
        client(seed.clone(), certs)?.get_multiplexed_async_connection_with_config(&connection_config(timeouts)).await?;
    let slots: Value = cmd("CLUSTER").arg("SLOTS").query_async(&mut conn).await?;
    let (seed_host, tls) = match seed.addr() {
        ConnectionAddr::Tcp(host, _) => (host.clone(), false),
        ConnectionAddr::TcpTls { host, .. } => (host.clone(), true),
        other => (other.to_string(), false),
    };
    let mut masters: Vec<(String, u16)> = Vec::new();
    let Value::Array(ranges) = slots else { return Ok(Vec::new()) };
    for range in ranges {
        let Value::Array(parts) = range else { continue };
        let Some(Value::Array(node)) = parts.get(2) else { continue };
        let host = match node.first() {
            Some(Value::BulkString(h)) if !h.is_empty() => String::from_utf8_lossy(h).into_owned(),
            _ => seed_host.clone(),
        };
        let Some(Value::Int(port)) = node.get(1) else { continue };
        let Ok(port) = u16::try_from(*port) else { continue };
        if !masters.contains(&(host.clone(), port)) {
            masters.push((host, port));
        }
    }
    masters.into_iter().map(|(host, port)| node_info(host, port, tls, seed.redis_settings().clone())).collect()
}
