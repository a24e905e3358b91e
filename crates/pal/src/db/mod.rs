//! The database abstraction: one object-safe trait every dialect implements, with
//! `$n` placeholders everywhere and provider-neutral values; one folder per
//! provider family, each declaring its providers; the shapes they share.

mod config;
pub mod grammar;
mod instrumented;
mod layer;
pub mod migrate;
pub mod placeholders;
mod pool;
mod position;
mod provider;
mod replica;
mod service;
mod target;
pub mod tls;
mod value;

// What the sqlx dialects share, and what the network ones share: a pool with
// bounded statements.
#[cfg(feature = "_sqlx")]
mod deadline;
#[cfg(feature = "_network")]
mod network;
#[cfg(feature = "_sqlx")]
mod rows;
#[cfg(feature = "_sqlx")]
mod sqlx_error;

// Providers.
pub mod mysql;
pub mod postgres;
pub mod sqlite;

pub use config::{Connect, DbSettings, PoolSettings, ReplicaTarget, ReplicationSettings, vars as config_vars};
pub use instrumented::{Instrumented, instrumented};
pub use layer::DbLayer;
pub use pool::DriverPool;
pub use position::{ConsistencyToken, PositionKind, ReplicaLag, ReplicaState, ReplicaStatus};
pub use provider::{DbCapabilities, DbProvider};
pub(crate) use replica::connect as with_replicas;
pub use service::{DatabaseService, DatabaseServiceExt, Dialect, PoolUsage, Transaction};
pub use target::{DbTarget, short_hash};
pub use value::{FromValue, Row, Value};

/// The sqlx pal is built with, for the pools [`DatabaseService::driver_pool`]
/// hands out: naming its types from here keeps them the same version.
pub use sqlx;
