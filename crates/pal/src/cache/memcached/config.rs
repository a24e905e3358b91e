use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::PROVIDER;
use crate::cache::{CacheConfig, CacheService};
use crate::env::{Env, HostPort, Var};
use crate::error::Result;

pub(super) const VARS: &[Var] = &[
    Var::new("MEMCACHED_SERVERS", None, "memcached: comma-separated servers, host:port; keys are sharded across them"),
    Var::new("MEMCACHED_CONNECT_TIMEOUT_MS", Some("1000"), "memcached: connection timeout"),
    Var::new("MEMCACHED_COMMAND_TIMEOUT_MS", Some("1000"), "memcached: timeout of every command"),
    Var::new(
        "MEMCACHED_MAX_ITEM_BYTES",
        Some("1048576"),
        "memcached: the servers' item size limit (their -I); larger values fail with ValueTooLarge",
    ),
    Var::new(
        "MEMCACHED_TLS",
        Some("false"),
        "memcached: TLS is not supported (the client speaks plain TCP); true is refused at start-up",
    ),
];

#[derive(Debug)]
struct MemcachedConfig {
    servers: Vec<HostPort>,
    max_item_bytes: usize,
    connect_timeout: Duration,
    command_timeout: Duration,
}

/// Reads the `memcached` variables; see [`Configure`](crate::cache::Configure).
pub fn configure(env: &mut Env, selected: bool) -> Option<Arc<dyn CacheConfig>> {
    let config = MemcachedConfig {
        servers: env.hosts("MEMCACHED_SERVERS", 11211),
        max_item_bytes: env.int("MEMCACHED_MAX_ITEM_BYTES", 1024usize, 1 << 30),
        connect_timeout: env.millis("MEMCACHED_CONNECT_TIMEOUT_MS"),
        command_timeout: env.millis("MEMCACHED_COMMAND_TIMEOUT_MS"),
    };
    if env.bool("MEMCACHED_TLS") {
        // Refused whichever provider is selected: asking for TLS and silently
        // getting none is worse than an error.
        env.invalid(
            "MEMCACHED_TLS",
            "true",
            "pal's memcached client speaks plain TCP only and cannot connect over TLS: keep memcached on a \
             private network, or reach it through a TLS tunnel (stunnel, spiped) listening on 127.0.0.1, \
             and set MEMCACHED_TLS=false",
        );
    }
    if selected && !env.is_set("MEMCACHED_SERVERS") {
        env.missing(
            "MEMCACHED_SERVERS",
            &format!("when CACHE_PROVIDER={}", PROVIDER.name),
            "127.0.0.1:11211,127.0.0.1:11212",
        );
    }
    Some(Arc::new(config))
}

impl CacheConfig for MemcachedConfig {
    fn target(&self) -> String {
        self.servers.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    }

    /// One server only: a sharded cache has no single raw client to compare with.
    fn peer(&self) -> Option<crate::cache::Peer> {
        match self.servers.as_slice() {
            [one] => Some(crate::cache::Peer::Memcached(one.clone())),
            _ => None,
        }
    }

    #[cfg(feature = "memcached")]
    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>> {
        Box::pin(async move {
            let cache = super::backend::MemcachedCache::connect(
                &self.servers,
                self.connect_timeout,
                self.command_timeout,
                self.max_item_bytes,
            )
            .await?;
            Ok(Arc::new(cache) as Arc<dyn CacheService>)
        })
    }

    #[cfg(not(feature = "memcached"))]
    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>> {
        let _ = (self.connect_timeout, self.command_timeout, self.max_item_bytes);
        Box::pin(async {
            Err(crate::Error::not_built("CACHE_PROVIDER", PROVIDER.name, PROVIDER.feature.unwrap_or_default()))
        })
    }
}
