//! The audit log: events taken without waiting for the database ([`AuditLog`]),
//! delivered in batches through an [`AuditSink`] (the `audit_log` table of any
//! [`DatabaseService`](crate::db::DatabaseService)), kept on local disk
//! ([`spool`]) where the durability mode or an outage needs it.

mod config;
mod log;
mod sink;
#[cfg(feature = "_audit_spool")]
mod spool;
#[cfg(not(feature = "_audit_spool"))]
#[path = "no_spool.rs"]
mod spool;

pub use config::{AuditSettings, Durability, Overflow, VARS};
pub use log::{AuditLog, AuditStatus, ShutdownReport};
pub use sink::{AuditEvent, AuditSink, SqlAuditSink};

/// Events waiting in the spool under `dir`, without creating one: `None` when
/// there is no spool there.
pub async fn spooled(dir: &std::path::Path) -> crate::Result<Option<u64>> {
    if !dir.join("audit-spool.db").exists() {
        return Ok(None);
    }
    Ok(Some(spool::Spool::open(dir).await?.len().await?))
}
