//! Reading the audit log back: what `pal audit tail`, the reference service's
//! "my events" page and an application's own admin screens ask of `pal_audit_log`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::AuditEvent;
use crate::db::{DatabaseService, Row, Value};
use crate::error::{Error, ErrorKind, Result};

/// Which stored events to read: every filter left `None` matches all.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// Events of this actor only.
    pub actor: Option<String>,
    /// Events of this action only.
    pub action: Option<String>,
    /// Events that occurred at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// At most this many: the newest.
    pub limit: u32,
    /// Whether a replica may answer ([`DatabaseService::read`]): it spares the
    /// primary, and its lag only hides the newest events, which batching delays
    /// anyway. Otherwise the primary answers.
    pub replica_ok: bool,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery { actor: None, action: None, since: None, limit: 50, replica_ok: false }
    }
}

/// The newest stored events matching `query`, newest first.
pub async fn recent(db: &dyn DatabaseService, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
    let mut sql = String::from("SELECT id, occurred_at, actor, action, ip, details FROM pal_audit_log WHERE 1 = 1");
    let mut params = Vec::new();
    let filters = [
        ("actor = ", query.actor.clone().map(Value::Text)),
        ("action = ", query.action.clone().map(Value::Text)),
        ("occurred_at >= ", query.since.map(Value::Timestamp)),
    ];
    for (condition, value) in filters {
        if let Some(value) = value {
            params.push(value);
            sql.push_str(&format!(" AND {condition}${}", params.len()));
        }
    }
    params.push(Value::Int(i64::from(query.limit)));
    // Ids are time-ordered: they break ties between events of the same instant.
    sql.push_str(&format!(" ORDER BY occurred_at DESC, id DESC LIMIT ${}", params.len()));
    let rows = if query.replica_ok { db.read(&sql, &params, None).await? } else { db.query(&sql, &params).await? };
    rows.iter().map(event).collect()
}

/// How many events `pal_audit_log` holds, and when the latest occurred.
pub async fn stored(db: &dyn DatabaseService) -> Result<(u64, Option<DateTime<Utc>>)> {
    let rows = db.query("SELECT COUNT(*) AS n, MAX(occurred_at) AS latest FROM pal_audit_log", &[]).await?;
    let row = rows.first().ok_or_else(|| Error::new(ErrorKind::Backend, "no answer to COUNT(*)"))?;
    let count: i64 = row.get("n")?;
    Ok((u64::try_from(count).unwrap_or(0), row.get("latest")?))
}

fn event(row: &Row) -> Result<AuditEvent> {
    let id: String = row.get("id")?;
    Ok(AuditEvent {
        id: Uuid::parse_str(&id)
            .map_err(|e| Error::new(ErrorKind::Decode, format!("pal_audit_log.id {id:?} is not a UUID: {e}")))?,
        occurred_at: row.get("occurred_at")?,
        actor: row.get("actor")?,
        action: row.get("action")?,
        ip: row.get("ip")?,
        details: row.get("details")?,
    })
}
