//! How a cache provider declares itself: its name as `CACHE_PROVIDER` spells it,
//! the variables it reads and what it can do; and the configuration it reads,
//! which builds the adapter. The registry lists each declaration with its
//! `configure` function; the factory turns the selected one into an adapter;
//! nothing else spells a provider's name.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::capabilities::Capabilities;
use super::near::store::{Store, Tracking};
use super::service::CacheService;
use crate::db::DatabaseService;
use crate::env::{ConnUrl, Env, HostPort, Var};
use crate::error::Result;

/// A cache provider as pal knows it: its name, variables and capabilities.
pub struct CacheProvider {
    /// The name, as `CACHE_PROVIDER` spells it.
    pub name: &'static str,
    /// One line for `--help` and the docs.
    pub summary: &'static str,
    /// The Cargo feature that compiles the adapter in, unless it is always built.
    /// Without it the provider is still known, and selecting it is a start-up
    /// error naming the feature.
    pub feature: Option<&'static str>,
    /// Prefixes of the variable names the provider owns, so a misspelled one is noticed.
    pub var_prefixes: &'static [&'static str],
    /// The variables the provider reads (besides those of another provider it builds on).
    pub vars: &'static [Var],
    /// What the provider can do.
    pub capabilities: Capabilities,
}

/// Reads a provider's variables. Every provider reads its own, so a bad value is
/// reported whichever provider is selected; only the selected one (`selected`)
/// insists that its required variables are set.
pub type Configure = fn(&mut Env, selected: bool) -> Option<Arc<dyn CacheConfig>>;

impl fmt::Debug for CacheProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// What a provider's configuration needs from the rest of pal to become a cache.
#[derive(Default, Clone)]
pub struct BuildContext {
    /// The configured database, when [`CacheConfig::needs_database`].
    pub database: Option<Arc<dyn DatabaseService>>,
    /// The near cache in front, when there is one: redis-hybrid stops it while its
    /// breaker is open, since writes then reach the database and not Redis.
    pub(crate) near: Option<Arc<Store>>,
}

/// The raw client a benchmark measures an adapter against: the same server (or the
/// same library) spoken to directly, without pal in between.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Peer {
    /// A Redis-protocol server at this URL (TLS and credentials included).
    Redis(ConnUrl),
    /// One memcached server.
    Memcached(HostPort),
    /// moka in this process, holding up to this many entries.
    Moka {
        /// The most entries it holds (`CACHE_MEMORY_MAX_ENTRIES`).
        max_entries: u64,
    },
}

/// A provider's parsed configuration; it builds the adapter.
pub trait CacheConfig: fmt::Debug + Send + Sync {
    /// Where the cache points, credentials redacted (for `pal check` and logs).
    fn target(&self) -> String;

    /// Whether [`CacheConfig::layer`] needs the configured database.
    fn needs_database(&self) -> bool {
        false
    }

    /// Builds the adapter. Connection problems surface at the first call (or
    /// `ping`), not here, so a server that is briefly down does not stop start-up.
    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>>;

    /// The raw client to compare the adapter with, where there is one.
    fn peer(&self) -> Option<Peer> {
        None
    }

    /// Starts telling a near cache's `store` which keys under `prefix` change on
    /// the server (`CACHE_NEAR_MAX_BYTES`); `None` where the server sends no
    /// invalidations ([`Capabilities::invalidations`](super::Capabilities)).
    fn track(&self, _prefix: &str, _store: Arc<Store>) -> Option<Result<Tracking>> {
        None
    }

    /// Whether every acknowledged write reached the tracked server, so the near
    /// cache may keep the value it wrote (its own invalidation is then sure to
    /// come, and is told apart). Not so where a write may be acknowledged by
    /// another store alone (redis-hybrid's database during an outage).
    fn writes_reach_tracked_server(&self) -> bool {
        true
    }

    /// Wraps the adapter (already under the key prefix) in the layers the provider
    /// consists of, such as redis-hybrid's database behind Redis.
    fn layer(&self, adapter: Arc<dyn CacheService>, _context: BuildContext) -> Result<Arc<dyn CacheService>> {
        Ok(adapter)
    }
}
