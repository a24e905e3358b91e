//! How a database provider declares itself: its name as `DB_PROVIDER` spells it,
//! the URLs it accepts and what it can do. The registry lists each declaration
//! with its `connect` function ([`Connect`](super::Connect)); the factory turns the selected one into an
//! adapter; nothing else spells a provider's name.

use std::fmt;

use super::tls::UrlTls;
use crate::env::Var;

/// A database provider as pal knows it: its name, URL schemes, variables and capabilities.
pub struct DbProvider {
    /// The name, as `DB_PROVIDER` spells it.
    pub name: &'static str,
    /// One line for `--help` and the docs.
    pub summary: &'static str,
    /// The Cargo feature that compiles the adapter in. Without it the provider is
    /// still known, and selecting it is a start-up error naming the feature.
    pub feature: &'static str,
    /// Schemes `DATABASE_URL` and `DB_REPLICA_URL` may use.
    pub url_schemes: &'static [&'static str],
    /// Shown when `DATABASE_URL` is missing.
    pub example_url: &'static str,
    /// Used when `DATABASE_URL` is unset; only an embedded database has one.
    pub default_url: Option<&'static str>,
    /// Variables of the provider's own (the `DB_*` ones are shared by all).
    pub vars: &'static [Var],
    /// How its URLs ask for TLS; `None` for a database inside the process.
    pub tls: Option<&'static UrlTls>,
    /// What the provider can do.
    pub capabilities: DbCapabilities,
}

impl fmt::Debug for DbProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// What a database provider can do, declared by the provider itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbCapabilities {
    /// Runs inside this process on a local file: nobody else migrates it, so
    /// `DB_AUTO_MIGRATE` defaults to on.
    pub embedded: bool,
    /// Has read replicas, so `DB_REPLICA_URL` may be set.
    pub replicas: bool,
}
