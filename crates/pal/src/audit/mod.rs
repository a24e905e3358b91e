//! The audit log's records and where they are stored, written once over any
//! [`DatabaseService`](crate::db::DatabaseService).

mod sink;

pub use sink::{AuditEvent, AuditSink, SqlAuditSink};
