//! Audit events and their durable sink in the `pal_audit_log` table of any database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::grammar::Grammar;
use crate::db::{DatabaseService, DatabaseServiceExt, DbTarget, Value};
use crate::error::{Error, ErrorKind, Result};

/// One audit record. The id makes writes idempotent: a batch retried after a
/// timeout never duplicates events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique per event; a retried write skips ids already stored.
    pub id: Uuid,
    /// When the event happened, in UTC.
    pub occurred_at: DateTime<Utc>,
    /// Who did it, when known.
    pub actor: Option<String>,
    /// What was done, such as `logout`.
    pub action: String,
    /// The client's IP address, when known.
    pub ip: Option<String>,
    /// Anything else worth keeping, as JSON; `null` when there is nothing.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// An event of `action` now, with a fresh UUIDv7 id (time-ordered).
    pub fn new(action: impl Into<String>) -> Self {
        AuditEvent {
            id: Uuid::now_v7(),
            occurred_at: Utc::now(),
            actor: None,
            action: action.into(),
            ip: None,
            details: serde_json::Value::Null,
        }
    }

    /// Who did it (the `actor` column).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.actor = Some(subject.into());
        self
    }

    /// The client's IP address (the `ip` column).
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = Some(ip.into());
        self
    }

    /// Details as JSON; a value that cannot be represented as JSON (a map with
    /// non-string keys, a failing `Serialize`) is a `Usage` error: the type is at
    /// fault, not whoever sent the data.
    pub fn details(mut self, details: impl Serialize) -> Result<Self> {
        self.details = serde_json::to_value(details)
            .map_err(|e| Error::new(ErrorKind::Usage, format!("audit details are not JSON: {e}")))?;
        Ok(self)
    }

    /// Refuses what no database would store as given: an empty action, NUL bytes
    /// (PostgreSQL rejects them in text), text over 1 KiB in the short fields, and
    /// details larger than `max_details_bytes` as JSON.
    pub fn validate(&self, max_details_bytes: usize) -> Result<()> {
        let invalid = |why: String| Err(Error::new(ErrorKind::InvalidInput, format!("audit event: {why}")));
        if self.action.trim().is_empty() {
            return invalid("the action is empty".into());
        }
        for (field, text) in
            [("action", Some(&self.action)), ("subject", self.actor.as_ref()), ("ip", self.ip.as_ref())]
        {
            let Some(text) = text else { continue };
            if text.contains('\0') {
                return invalid(format!("the {field} contains a NUL byte"));
            }
            if text.len() > SHORT_FIELD_BYTES {
                return invalid(format!("the {field} is {} bytes, over {SHORT_FIELD_BYTES}", text.len()));
            }
        }
        let size = serde_json::to_vec(&self.details).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > max_details_bytes {
            return invalid(format!(
                "the details are {size} bytes as JSON, over AUDIT_MAX_DETAILS_BYTES ({max_details_bytes})"
            ));
        }
        if contains_nul(&self.details) {
            return invalid("the details contain a NUL character (PostgreSQL's JSON cannot store it)".into());
        }
        Ok(())
    }
}

/// Longest subject, action or ip.
const SHORT_FIELD_BYTES: usize = 1024;

fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

/// The durable side of the audit log.
#[async_trait]
pub trait AuditSink: Send + Sync + 'static {
    /// Stores the events atomically (all or none). Events whose id is already stored
    /// are skipped, so retrying a batch is safe.
    async fn insert_batch(&self, events: &[AuditEvent]) -> Result<()>;

    /// The database the events go to, named without reaching it: the local spool
    /// is bound to it, and only a sink with the same target delivers what it holds.
    fn target(&self) -> DbTarget;

    /// The server's own identity (see [`DatabaseService::server_identity`]): a spool
    /// keeps the first it met and refuses to deliver to another. `Ok(None)` for a
    /// sink that cannot tell.
    async fn server_identity(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

/// [`AuditSink`] on the `pal_audit_log` table of any [`DatabaseService`].
pub struct SqlAuditSink {
    db: Arc<dyn DatabaseService>,
    /// Whether the server was found unable to tell who it is (warned once).
    unidentified: AtomicBool,
}

/// Rows per INSERT statement. Measured on PostgreSQL: 100 rows take 2.5-4 ms, 500 rows
/// 50-100 ms, so a batch is several statements in one transaction. 600 parameters stay
/// well under every dialect's limit (SQLite 32 766, PostgreSQL and MySQL 65 535).
const ROWS_PER_STATEMENT: usize = 100;
const COLUMNS: usize = 6;

impl SqlAuditSink {
    /// A sink writing to `db`; the `pal_audit_log` table must exist (`pal migrate`).
    pub fn new(db: Arc<dyn DatabaseService>) -> Self {
        SqlAuditSink { db, unidentified: AtomicBool::new(false) }
    }
}

fn insert_sql(grammar: &dyn Grammar, rows: usize) -> String {
    let mut sql = String::from("INSERT INTO pal_audit_log (id, occurred_at, actor, action, ip, details) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        let n = r * COLUMNS;
        sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5, n + 6));
    }
    // A replayed event is already there: it stays as it was.
    sql.push_str(&grammar.on_conflict("id", &[]));
    sql
}

fn params(events: &[AuditEvent]) -> Vec<Value> {
    let mut params = Vec::with_capacity(events.len() * COLUMNS);
    for e in events {
        params.extend([
            Value::Text(e.id.to_string()),
            e.occurred_at.into(),
            e.actor.clone().into(),
            e.action.clone().into(),
            e.ip.clone().into(),
            Value::Json(e.details.clone()),
        ]);
    }
    params
}

#[async_trait]
impl AuditSink for SqlAuditSink {
    fn target(&self) -> DbTarget {
        self.db.target()
    }

    async fn server_identity(&self) -> Result<Option<String>> {
        match self.db.server_identity().await {
            Err(e) if e.kind() == ErrorKind::Unsupported => {
                if !self.unidentified.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, target = %self.db.target(), "audit: the server cannot tell who it is; \
                        the spool is bound to its address alone");
                }
                Ok(None)
            }
            other => other,
        }
    }

    async fn insert_batch(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let grammar = self.db.grammar();
        let statements =
            events.chunks(ROWS_PER_STATEMENT).map(|chunk| (insert_sql(grammar, chunk.len()), params(chunk))).collect();
        self.db.execute_all(statements).await
    }
}
