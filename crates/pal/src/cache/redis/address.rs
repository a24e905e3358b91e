//! Where Redis is and how long to wait for it, as read from the `REDIS_*` variables.

use std::time::Duration;

use secrecy::SecretString;

use crate::env::{ConnUrl, HostPort};
use crate::tls::{ClientPair, Transport, Verification};

/// Where the Redis servers are, as `REDIS_*` describes them.
#[derive(Debug, Clone)]
pub enum RedisTopology {
    /// One server at this URL (`REDIS_URL`).
    Standalone(ConnUrl),
    /// `url`, when set, supplies the master's credentials, database number and TLS.
    Sentinel {
        /// The name of the master the sentinels watch.
        master: String,
        /// The sentinels.
        nodes: Vec<HostPort>,
        /// The sentinels' own password, when they require one.
        password: Option<SecretString>,
        /// `REDIS_URL`, for the master's credentials, database number and TLS.
        url: Option<ConnUrl>,
        /// The sentinels themselves speak TLS (`REDIS_SENTINEL_TLS`).
        tls: bool,
    },
    /// `url`, when set, supplies the nodes' credentials and TLS.
    Cluster {
        /// Seed nodes; the rest of the cluster is discovered from them.
        nodes: Vec<HostPort>,
        /// `REDIS_URL`, for the nodes' credentials and TLS.
        url: Option<ConnUrl>,
    },
}

impl RedisTopology {
    /// Whether the data connections (the server, the master, the cluster nodes) use TLS.
    pub fn data_tls(&self) -> bool {
        let url = match self {
            RedisTopology::Standalone(url) => Some(url),
            RedisTopology::Sentinel { url, .. } | RedisTopology::Cluster { url, .. } => url.as_ref(),
        };
        url.is_some_and(|u| u.scheme() == "rediss")
    }

    /// How its connections are protected. redis-rs checks the chain and the host
    /// name of every TLS connection, so TLS here is always `verify-full`.
    pub fn transport(&self, tls: &RedisTls) -> Transport {
        let one = |encrypted: bool| match encrypted {
            true => {
                Transport::tls(Verification::Full, tls.ca.as_ref().map(|(path, _)| path.clone()), tls.client.is_some())
            }
            false => Transport::Plaintext,
        };
        match self {
            RedisTopology::Sentinel { tls: sentinels, .. } => {
                Transport::Parts(vec![("sentinels", one(*sentinels)), ("master", one(self.data_tls()))])
            }
            _ => one(self.data_tls()),
        }
    }

    /// Whether any connection uses TLS.
    pub fn any_tls(&self) -> bool {
        self.data_tls() || matches!(self, RedisTopology::Sentinel { tls: true, .. })
    }

    /// Where it points, credentials redacted.
    pub fn target(&self) -> String {
        let join = |nodes: &[HostPort]| nodes.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        match self {
            RedisTopology::Standalone(url) => url.redacted().to_string(),
            RedisTopology::Sentinel { master, nodes, .. } => format!("sentinel {master} via {}", join(nodes)),
            RedisTopology::Cluster { nodes, .. } => format!("cluster via {}", join(nodes)),
        }
    }
}

/// `REDIS_CONNECT_TIMEOUT_MS` and `REDIS_COMMAND_TIMEOUT_MS`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// How long a connection may take to open.
    pub connect: Duration,
    /// How long every command may take.
    pub command: Duration,
}

/// Certificates for TLS connections, read and checked from `REDIS_TLS_*`.
#[derive(Debug, Clone, Default)]
pub struct RedisTls {
    /// The CA file's path and contents; without it, the public roots built in.
    pub ca: Option<(String, Vec<u8>)>,
    /// The client certificate and key, when the server asks for one.
    pub client: Option<ClientPair>,
}

impl RedisServer {
    /// A standalone server, for a raw client to be measured against. Sentinel and
    /// Cluster have no single server to compare with.
    pub fn peer(&self) -> Option<crate::cache::Peer> {
        match &self.topology {
            Some(RedisTopology::Standalone(url)) => Some(crate::cache::Peer::Redis(url.clone())),
            _ => None,
        }
    }
}

/// The parsed `REDIS_*` variables.
#[derive(Debug, Clone)]
pub struct RedisServer {
    /// `None` when no Redis is configured and none is required.
    pub topology: Option<RedisTopology>,
    /// The connection and command timeouts.
    pub timeouts: Timeouts,
    /// The certificates for TLS connections.
    pub tls: RedisTls,
}
