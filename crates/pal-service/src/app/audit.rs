//! A signed-in user's own security events, out of the audit log through the
//! database's read path.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use pal::audit::AuditQuery;
use serde::Serialize;
use utoipa::ToSchema;

use super::errors::{ApiError, ErrorBody};
use super::session::Authenticated;
use crate::AppState;

/// One security event, as `GET /v1/audit` returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// The event's id (a UUID).
    pub id: String,
    /// When it happened, in UTC.
    pub occurred_at: DateTime<Utc>,
    /// What happened.
    #[schema(example = "verification_succeeded")]
    pub action: String,
    /// The client address it came from, when known.
    pub ip: Option<String>,
    /// What else was recorded with it, as JSON.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// The body of `GET /v1/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntries {
    /// The signed-in user's events, newest first.
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
    let query = AuditQuery {
        actor: Some(auth.session.user_id.clone()),
        limit: 50,
        // A moment's lag only hides the newest events, which batching delays anyway.
        replica_ok: true,
        ..AuditQuery::default()
    };
    let events = pal::audit::recent(state.db.as_ref(), &query)
        .await?
        .into_iter()
        .map(|e| AuditEntry {
            id: e.id.to_string(),
            occurred_at: e.occurred_at,
            action: e.action,
            ip: e.ip,
            details: e.details,
        })
        .collect();
    Ok(Json(AuditEntries { events }))
}
