//! Audit events and their durable sink in the `audit_log` table of any database.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{DatabaseService, DatabaseServiceExt, Dialect, Value};
use crate::error::Result;

/// One audit record. The id makes writes idempotent: a batch retried after a
/// timeout never duplicates events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: Option<String>,
    pub action: String,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

impl AuditEvent {
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
}

/// The durable side of the audit log.
#[async_trait]
pub trait AuditSink: Send + Sync + 'static {
    /// Stores the events atomically (all or none). Events whose id is already stored
    /// are skipped, so retrying a batch is safe.
    async fn insert_batch(&self, events: &[AuditEvent]) -> Result<()>;
}

/// [`AuditSink`] on the `audit_log` table of any [`DatabaseService`].
pub struct SqlAuditSink {
    db: Arc<dyn DatabaseService>,
}

/// Rows per INSERT statement: 6 parameters each stays well under every dialect's
/// limit on bound parameters (SQLite 32 766, PostgreSQL and MySQL 65 535).
const ROWS_PER_STATEMENT: usize = 500;
const COLUMNS: usize = 6;

impl SqlAuditSink {
    pub fn new(db: Arc<dyn DatabaseService>) -> Self {
        SqlAuditSink { db }
    }
}

fn insert_sql(dialect: Dialect, rows: usize) -> String {
    let mut sql = String::from("INSERT INTO audit_log (id, occurred_at, actor, action, ip, details) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        let n = r * COLUMNS;
        sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5, n + 6));
    }
    sql.push_str(match dialect {
        Dialect::MySql => " ON DUPLICATE KEY UPDATE id = id",
        Dialect::Postgres | Dialect::Sqlite => " ON CONFLICT (id) DO NOTHING",
    });
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
    async fn insert_batch(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let dialect = self.db.dialect();
        let statements: Arc<[(String, Vec<Value>)]> =
            events.chunks(ROWS_PER_STATEMENT).map(|chunk| (insert_sql(dialect, chunk.len()), params(chunk))).collect();
        self.db
            .transaction(move |tx| {
                let statements = statements.clone();
                Box::pin(async move {
                    for (sql, params) in statements.iter() {
                        tx.execute(sql, params).await?;
                    }
                    Ok(())
                })
            })
            .await
    }
}
