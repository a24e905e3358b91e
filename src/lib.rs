//! pal — a provider abstraction layer. Application code talks to
//! [`CacheService`] and [`DatabaseService`]; environment variables choose the
//! providers behind them ([`Settings::from_env`], [`factory`]).

pub mod cache;
pub mod crypto;
pub mod db;
pub mod error;
pub mod factory;
pub mod health;
pub mod redact;
pub mod server;
pub mod settings;

pub use cache::{CacheService, CacheServiceExt, Ttl};
pub use db::{AuditEvent, AuditSink, DatabaseService, DatabaseServiceExt, Row, SessionStore, Value};
pub use error::{Error, ErrorKind, Result};
pub use settings::Settings;
