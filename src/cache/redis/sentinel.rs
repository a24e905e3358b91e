//! A reconnecting connection to the master a Sentinel group names. redis-rs
//! resolves a master through Sentinel but does not follow failovers on an open
//! connection: this wrapper drops the connection when it breaks or when the node
//! answers READONLY (it was demoted), and resolves the master again on next use.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::sentinel::SentinelClient;
use redis::{AsyncConnectionConfig, RedisError, RedisResult};

use super::topology::Request;

pub(crate) struct SentinelConnection {
    /// Serializes resolutions: many callers noticing a failover at once trigger one lookup.
    resolver: tokio::sync::Mutex<SentinelClient>,
    /// The current master connection and a generation number, so a caller only drops
    /// the connection it actually saw fail, never a newer one.
    current: Mutex<(u64, Option<MultiplexedConnection>)>,
    config: AsyncConnectionConfig,
    connect_timeout: Duration,
}

impl SentinelConnection {
    pub(crate) fn new(client: SentinelClient, connect_timeout: Duration, command_timeout: Duration) -> Arc<Self> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(command_timeout));
        Arc::new(SentinelConnection {
            resolver: tokio::sync::Mutex::new(client),
            current: Mutex::new((0, None)),
            config,
            connect_timeout,
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
            tracing::warn!("redis sentinel: master connection lost, will resolve the master again");
        }
    }

    async fn connection(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        if let (generation, Some(conn)) = self.snapshot() {
            return Ok((generation, conn));
        }
        let mut resolver = self.resolver.lock().await;
        // Another caller may have reconnected while this one waited for the lock.
        if let (generation, Some(conn)) = self.snapshot() {
            return Ok((generation, conn));
        }
        let resolve = async {
            let client = resolver.async_get_client().await?;
            let conn = client.get_multiplexed_async_connection_with_config(&self.config).await?;
            let addr = client.get_connection_info().addr().to_string();
            Ok::<_, RedisError>((conn, addr))
        };
        let (conn, addr) = tokio::time::timeout(self.connect_timeout, resolve).await.map_err(|_| {
            RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no master found through the sentinels within REDIS_CONNECT_TIMEOUT_MS",
            ))
        })??;
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        guard.1 = Some(conn.clone());
        tracing::info!(master = %addr, "redis sentinel: connected to master");
        Ok((guard.0, conn))
    }

    pub(crate) async fn send<T: redis::FromRedisValue>(&self, request: Request<'_>) -> RedisResult<T> {
        let (generation, mut conn) = self.connection().await?;
        match request.run(&mut conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly) => {
                // The node was demoted, so the write was rejected and never applied: it is
                // safe to send it once more, to the master the sentinels name now.
                self.invalidate(generation);
                let (_, mut conn) = self.connection().await?;
                request.run(&mut conn).await
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
