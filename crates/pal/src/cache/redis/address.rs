//! Where Redis is and how long to wait for it, as read from the `REDIS_*` variables.

use std::time::Duration;

use secrecy::SecretString;

use crate::env::{ConnUrl, HostPort};

#[derive(Debug, Clone)]
pub enum RedisTopology {
    Standalone(ConnUrl),
    /// `url`, when set, supplies the master's credentials, database number and TLS.
    Sentinel {
        master: String,
        nodes: Vec<HostPort>,
        password: Option<SecretString>,
        url: Option<ConnUrl>,
    },
    /// `url`, when set, supplies the nodes' credentials and TLS.
    Cluster {
        nodes: Vec<HostPort>,
        url: Option<ConnUrl>,
    },
}

impl RedisTopology {
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

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub command: Duration,
}

/// The parsed `REDIS_*` variables.
#[derive(Debug, Clone)]
pub struct RedisServer {
    /// `None` when no Redis is configured and none is required.
    pub topology: Option<RedisTopology>,
    pub timeouts: Timeouts,
}
