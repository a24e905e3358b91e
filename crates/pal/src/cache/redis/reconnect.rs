//! One multiplexed connection that is re-established on next use after it breaks.
//! For Sentinel it also follows failovers: redis-rs resolves a master through
//! Sentinel but does not follow a failover on an open connection, so the
//! connection is dropped when the node answers READONLY (it was demoted) too, and
//! the master is resolved again. For a standalone server it replaces redis-rs's
//! ConnectionManager, which measured about 8% slower per call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::sentinel::SentinelClient;
use redis::{AsyncConnectionConfig, Client, RedisError, RedisResult};

use super::address::Timeouts;
use super::request::Request;

/// Where a new connection goes.
pub(crate) enum Target {
    Direct(Client),
    /// The master the sentinels name at the time of connecting.
    Sentinel(SentinelClient),
}

impl Target {
    async fn connect(&mut self, config: &AsyncConnectionConfig) -> RedisResult<(MultiplexedConnection, String)> {
        let (client, direct) = match self {
            Target::Direct(client) => (client.clone(), true),
            Target::Sentinel(sentinel) => (sentinel.async_get_client().await?, false),
        };
        let info = client.get_connection_info();
        let connecting = client.get_multiplexed_async_connection_with_config(config);
        // A server named by REDIS_URL may have been given the wrong scheme.
        let conn = match direct {
            true => super::probe::connect(info.addr(), connecting).await?,
            false => connecting.await?,
        };
        Ok((conn, info.addr().to_string()))
    }
}

/// A connection bounded by `REDIS_CONNECT_TIMEOUT_MS` and `REDIS_COMMAND_TIMEOUT_MS`.
pub(crate) fn connection_config(timeouts: Timeouts) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.command))
}

pub(crate) struct ReconnectingConnection {
    /// Serializes reconnects: many callers noticing a failure at once trigger one.
    target: tokio::sync::Mutex<Target>,
    /// The current master connection and a generation number, so a caller only drops
    /// the connection it actually saw fail, never a newer one.
    current: Mutex<(u64, Option<MultiplexedConnection>)>,
    config: AsyncConnectionConfig,
    connect_timeout: Duration,
}

impl ReconnectingConnection {
    pub(crate) fn new(target: Target, timeouts: Timeouts) -> Arc<Self> {
        Arc::new(ReconnectingConnection {
            target: tokio::sync::Mutex::new(target),
            current: Mutex::new((0, None)),
            config: connection_config(timeouts),
            connect_timeout: timeouts.connect,
        })
    }

    fn snapshot(&self) -> (u64, Option<MultiplexedConnection>) {
        let guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        (guard.0, guard.1.clone())
    }

    fn invalidate(&self, generation: u64) {
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0 == generation && guard.1.is_some() {
            guard.1 = None;
            guard.0 += 1;
            tracing::warn!("redis: connection lost, will reconnect on next use");
        }
    }

    async fn connection(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        if let (generation, Some(conn)) = self.snapshot() {
            return Ok((generation, conn));
        }
        // Boxed: the reconnect future (a Sentinel lookup included) is large, and
        // inlined it would make every call's future, moved on every call, as large.
        Box::pin(self.reconnect()).await
    }

    async fn reconnect(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        let mut target = self.target.lock().await;
        // Another caller may have reconnected while this one waited for the lock.
        if let (generation, Some(conn)) = self.snapshot() {
            return Ok((generation, conn));
        }
        let (conn, addr) =
            tokio::time::timeout(self.connect_timeout, target.connect(&self.config)).await.map_err(|_| {
                RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no connection within REDIS_CONNECT_TIMEOUT_MS",
                ))
            })??;
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        guard.1 = Some(conn.clone());
        tracing::info!(server = %addr, "redis: connected");
        Ok((guard.0, conn))
    }

    pub(crate) async fn send<T: redis::FromRedisValue>(&self, request: Request<'_>) -> RedisResult<T> {
        let (generation, mut conn) = self.connection().await?;
        match request.run(&mut conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly) => {
                // The node was demoted, so the write was rejected and never applied: it is
                // safe to send it once more, to the master the sentinels name now (for a
                // standalone server the second answer is READONLY again).
                self.invalidate(generation);
                Box::pin(async {
                    let (_, mut conn) = self.connection().await?;
                    request.run(&mut conn).await
                })
                .await
            }
            Err(e) if breaks_connection(&e) => {
                self.invalidate(generation);
                Err(e)
            }
            other => other,
        }
    }
}

fn breaks_connection(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal()
}
