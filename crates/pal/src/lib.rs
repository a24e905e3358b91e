//! pal — a provider abstraction layer. Application code talks to
//! [`CacheService`] and [`DatabaseService`]; environment variables choose the
//! providers behind them ([`Settings::from_env`], [`factory`]).
//!
//! Modules depend downwards only, bottom to top: [`error`]; [`env`](mod@env) (the one
//! environment reader), [`retry`], [`namespace`], [`crypto`], [`tls`], [`telemetry`]; the traits and
//! their providers in [`cache`] and [`db`]; the stores over them ([`expiring`],
//! [`audit`]); the cache layers; [`registry`], [`settings`], [`factory`] and
//! [`health`]. A test (`tests/layering/`) keeps it so.

pub mod audit;
pub mod cache;
pub mod crypto;
pub mod db;
pub mod env;
pub mod error;
pub mod expiring;
pub mod factory;
pub mod health;
pub mod namespace;
pub mod registry;
pub mod retry;
pub mod settings;
pub mod telemetry;
pub mod tls;

pub use cache::{CacheService, CacheServiceExt, Ttl};
pub use db::{DatabaseService, DatabaseServiceExt, Row, Value};
pub use error::{Error, ErrorKind, Result};
pub use settings::Settings;
