//! A signed-in user's own security events, out of the audit log through the
//! database's read path.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::errors::{ApiError, ErrorBody};
use super::session::Authenticated;
use super::users;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    #[schema(example = "verification_succeeded")]
    pub action: String,
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntries {
    pub events: Vec<AuditEntry>,
}

/// The signed-in user's own security events, newest first (at most 50). Events
/// reach the database in batches, so the latest may take up to
/// `AUDIT_FLUSH_INTERVAL_MS` to show.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, body = AuditEntries),
        (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn own_events(State(state): State<AppState>, auth: Authenticated) -> Result<Json<AuditEntries>, ApiError> {
    // A replica may serve it: a moment's lag only hides the newest events, which
    // batching delays anyway.
    let rows = state
        .db
        .read(
            "SELECT id, occurred_at, action, ip, details FROM audit_log WHERE actor = $1 \
             ORDER BY occurred_at DESC, id DESC LIMIT 50",
            &[auth.session.user_id.clone().into()],
            None,
        )
        .await?;
    let events = rows
        .iter()
        .map(|row| {
            Ok(AuditEntry {
                id: users::text(row, "id")?,
                occurred_at: row.get("occurred_at")?,
                action: row.get("action")?,
                ip: row.get("ip")?,
                details: row.get("details")?,
            })
        })
        .collect::<pal::Result<Vec<_>>>()?;
    Ok(Json(AuditEntries { events }))
}
