//! The audit log: events taken without waiting for the database ([`AuditLog`]),
//! delivered in batches through an [`AuditSink`] (the `pal_audit_log` table of any
//! [`DatabaseService`](crate::db::DatabaseService)), kept on local disk
//! (`spool`) where the durability mode or an outage needs it. A spool belongs to
//! the one database it was written for ([`spools`]).

mod binding;
mod config;
mod flush;
mod log;
mod query;
mod shared;
mod sink;
#[cfg(feature = "_audit_spool")]
mod spool;
#[cfg(not(feature = "_audit_spool"))]
#[path = "no_spool.rs"]
mod spool;
mod spools;

pub use config::{AuditSettings, Durability, Overflow, VARS};
pub use log::{AuditLog, AuditStatus, ShutdownReport};
pub use query::{AuditQuery, recent, stored};
pub use sink::{AuditEvent, AuditSink, SqlAuditSink};
pub use spools::{LEGACY_SPOOL, SpoolFile, adopt, spools, waiting_elsewhere};
