//! The three ways to reach Redis, behind one `send`: topology is a detail of the
//! connection, not a different cache.

use std::sync::Arc;

use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisResult, TlsCertificates, TlsMode,
};
use tokio::sync::OnceCell;

use super::address::{RedisTls, RedisTopology, Timeouts};
use super::reconnect::{ReconnectingConnection, Target};
use super::request::Request;
use crate::env::{ConnUrl, HostPort};
use crate::error::{Error, ErrorKind, Result};

pub(crate) enum Topology {
    /// Reconnects on next use after the connection breaks.
    Standalone(Arc<ReconnectingConnection>),
    /// Connected on first use, so a cluster that is briefly down does not stop start-up;
    /// afterwards redis-rs follows slot moves and failovers.
    Cluster(Box<LazyCluster>),
    /// Reconnects, and follows failovers, through the sentinels.
    Sentinel(Arc<ReconnectingConnection>, String),
}

pub(crate) struct LazyCluster {
    client: redis::cluster::ClusterClient,
    conn: OnceCell<ClusterConnection>,
}

impl LazyCluster {
    pub(super) async fn connection(&self) -> RedisResult<&ClusterConnection> {
        match self.conn.get() {
            Some(conn) => Ok(conn),
            // Boxed for the same reason as reconnects: it runs once.
            None => Box::pin(self.conn.get_or_try_init(|| self.client.get_async_connection())).await,
        }
    }
}

fn config_error(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Config, what.to_string())
}

/// Credentials, database and TLS taken from a `redis://` / `rediss://` URL.
struct Auth {
    username: Option<String>,
    password: Option<String>,
    db: i64,
    tls: bool,
}

fn auth(url: Option<&ConnUrl>) -> Result<Auth> {
    let Some(url) = url else { return Ok(Auth { username: None, password: None, db: 0, tls: false }) };
    let info = url
        .expose()
        .into_connection_info()
        .map_err(|e| config_error(format!("REDIS_URL {} is not usable: {e}", url.redacted())))?;
    let redis = info.redis_settings();
    Ok(Auth {
        username: redis.username().map(str::to_string),
        password: redis.password().map(str::to_string),
        db: redis.db(),
        tls: matches!(info.addr(), ConnectionAddr::TcpTls { .. }),
    })
}

/// The certificates redis-rs takes, or `None` to verify against the public roots
/// with no client certificate.
fn certificates(tls: &RedisTls) -> Option<TlsCertificates> {
    if tls.ca.is_none() && tls.client.is_none() {
        return None;
    }
    Some(TlsCertificates {
        client_tls: tls
            .client
            .as_ref()
            .map(|pair| ClientTlsConfig { client_cert: pair.cert.clone(), client_key: pair.key.to_vec() }),
        root_cert: tls.ca.as_ref().map(|(_, pem)| pem.clone()),
    })
}

/// A client of the sentinels of `topology` (a Sentinel topology), with the
/// master's credentials, database and TLS.
fn sentinel_client(topology: &RedisTopology, certs: Option<&TlsCertificates>) -> Result<SentinelClient> {
    let RedisTopology::Sentinel { master, nodes, password, url, tls: sentinel_tls } = topology else {
        return Err(config_error("not a Sentinel topology"));
    };
    let auth = auth(url.as_ref())?;
    let sentinels = nodes.iter().map(|HostPort { host, port }| match sentinel_tls {
        true => ConnectionAddr::TcpTls { host: host.clone(), port: *port, insecure: false, tls_params: None },
        false => ConnectionAddr::Tcp(host.clone(), *port),
    });
    let mut builder = SentinelClientBuilder::new(sentinels, master, SentinelServerType::Master)
        .map_err(|e| config_error(format!("REDIS_SENTINEL_NODES: {e}")))?
        .set_client_to_redis_db(auth.db);
    if let Some(u) = &auth.username {
        builder = builder.set_client_to_redis_username(u);
    }
    if let Some(p) = &auth.password {
        builder = builder.set_client_to_redis_password(p);
    }
    if auth.tls {
        builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
        if let Some(certs) = certs {
            builder = builder.set_client_to_redis_certificates(certs.clone());
        }
    }
    if *sentinel_tls {
        builder = builder.set_client_to_sentinel_tls_mode(TlsMode::Secure);
        if let Some(certs) = certs {
            builder = builder.set_client_to_sentinel_certificates(certs.clone());
        }
    }
    if let Some(p) = password {
        builder = builder.set_client_to_sentinel_password(secrecy::ExposeSecret::expose_secret(p));
    }
    builder.build().map_err(|e| config_error(format!("REDIS_SENTINEL_NODES: {e}")))
}

/// Where a near cache's tracking connections go: the masters of the topology,
/// found again on every reconnect.
pub(crate) enum TrackingSource {
    Direct(Box<ConnectionInfo>),
    Sentinel(Box<SentinelClient>),
    /// The seed nodes, each with the cluster's credentials and TLS.
    Cluster(Vec<ConnectionInfo>),
}

/// The tracking source of `topology`, and the certificates its TLS connections verify with.
pub(crate) fn tracking_source(
    topology: &RedisTopology,
    tls: &RedisTls,
) -> Result<(TrackingSource, Option<TlsCertificates>)> {
    crate::tls::install_crypto_provider();
    let certs = certificates(tls);
    let source = match topology {
        RedisTopology::Standalone(url) => TrackingSource::Direct(Box::new(
            url.expose()
                .into_connection_info()
                .map_err(|e| config_error(format!("Redis URL {} is not usable: {e}", url.redacted())))?,
        )),
        RedisTopology::Sentinel { .. } => {
            TrackingSource::Sentinel(Box::new(sentinel_client(topology, certs.as_ref())?))
        }
        RedisTopology::Cluster { nodes, url } => {
            let auth = auth(url.as_ref())?;
            let mut settings = redis::RedisConnectionInfo::default();
            if let Some(u) = &auth.username {
                settings = settings.set_username(u);
            }
            if let Some(p) = &auth.password {
                settings = settings.set_password(p);
            }
            let seeds = nodes
                .iter()
                .map(|HostPort { host, port }| node_info(host.clone(), *port, auth.tls, settings.clone()))
                .collect::<RedisResult<_>>()
                .map_err(|e| config_error(format!("REDIS_CLUSTER_NODES: {e}")))?;
            TrackingSource::Cluster(seeds)
        }
    };
    Ok((source, certs))
}

/// A cluster node's connection: the cluster's credentials and TLS, at `host:port`.
pub(crate) fn node_info(
    host: String,
    port: u16,
    tls: bool,
    settings: redis::RedisConnectionInfo,
) -> RedisResult<ConnectionInfo> {
    let addr = match tls {
        true => ConnectionAddr::TcpTls { host, port, insecure: false, tls_params: None },
        false => ConnectionAddr::Tcp(host, port),
    };
    Ok(addr.into_connection_info()?.set_redis_settings(settings))
}

impl Topology {
    pub(crate) fn build(topology: &RedisTopology, timeouts: &Timeouts, tls: &RedisTls) -> Result<Topology> {
        crate::tls::install_crypto_provider();
        let certs = certificates(tls);
        match topology {
            RedisTopology::Standalone(url) => {
                let client = match (&certs, url.scheme() == "rediss") {
                    (Some(certs), true) => Client::build_with_tls(url.expose(), certs.clone()),
                    _ => Client::open(url.expose()),
                }
                .map_err(|e| config_error(format!("Redis URL {} is not usable: {e}", url.redacted())))?;
                Ok(Topology::Standalone(ReconnectingConnection::new(Target::Direct(client), *timeouts)))
            }
            RedisTopology::Cluster { nodes, url } => {
                let auth = auth(url.as_ref())?;
                let seeds: Vec<String> = nodes.iter().map(|n| format!("redis://{n}")).collect();
                let mut builder = ClusterClientBuilder::new(seeds)
                    .connection_timeout(timeouts.connect)
                    .response_timeout(timeouts.command)
                    .retries(3)
                    .min_retry_wait(50)
                    .max_retry_wait(500);
                if let Some(u) = &auth.username {
                    builder = builder.username(u);
                }
                if let Some(p) = &auth.password {
                    builder = builder.password(p);
                }
                if auth.tls {
                    builder = builder.tls(TlsMode::Secure);
                    if let Some(certs) = &certs {
                        builder = builder.certs(certs.clone());
                    }
                }
                let client = builder.build().map_err(|e| config_error(format!("REDIS_CLUSTER_NODES: {e}")))?;
                Ok(Topology::Cluster(Box::new(LazyCluster { client, conn: OnceCell::new() })))
            }
            RedisTopology::Sentinel { master, .. } => {
                let client = sentinel_client(topology, certs.as_ref())?;
                Ok(Topology::Sentinel(ReconnectingConnection::new(Target::Sentinel(client), *timeouts), master.clone()))
            }
        }
    }

    /// The master's name, when the sentinels are asked for it.
    pub(crate) fn sentinel_master(&self) -> Option<&str> {
        match self {
            Topology::Sentinel(_, master) => Some(master),
            _ => None,
        }
    }

    /// A Redis Cluster: multi-key commands must keep to one hash slot.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Topology::Cluster(_))
    }

    /// One server named by `REDIS_URL`.
    pub(crate) fn is_standalone(&self) -> bool {
        matches!(self, Topology::Standalone(_))
    }

    /// Whether the driver's timeouts alone bound a call to connect + command timeout.
    /// Cluster and Sentinel calls can retry or resolve internally, so they need an outer bound.
    pub(crate) fn bounded_by_driver(&self) -> bool {
        matches!(self, Topology::Standalone(_))
    }

    pub(crate) async fn send<T: redis::FromRedisValue>(&self, request: Request<'_>) -> RedisResult<T> {
        match self {
            Topology::Standalone(conn) => conn.send(request).await,
            Topology::Cluster(lazy) => Box::pin(request.run(&mut lazy.connection().await?.clone())).await,
            Topology::Sentinel(conn, _) => conn.send(request).await,
        }
    }
}
