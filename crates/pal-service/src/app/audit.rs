//! Security events into the audit log, and a signed-in user's own events back
//! out of it through the database's read path.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use pal::audit::AuditEvent;

use super::errors::{ApiError, ErrorBody};
use super::session::Authenticated;
use super::users;
use crate::AppState;

/// What the service records. The action is the audit log's `action` column.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    CodeSent,
    Enrolled,
    EnrollmentFailed,
    VerificationFailed,
    VerificationSucceeded,
    Logout,
    LogoutEverywhere,
    RateLimited,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CodeSent => "code_sent",
            Action::Enrolled => "enrolled",
            Action::EnrollmentFailed => "enrollment_failed",
            Action::VerificationFailed => "verification_failed",
            Action::VerificationSucceeded => "verification_succeeded",
            Action::Logout => "logout",
            Action::LogoutEverywhere => "logout_everywhere",
            Action::RateLimited => "rate_limited",
        }
    }
}

/// Records an event; `actor` is the user it concerns, when known. The audit log
/// takes it without waiting for the database, so this never fails a request: an
/// event it refuses (it is shutting down) is logged instead.
pub async fn record(state: &AppState, action: Action, actor: Option<&str>, ip: IpAddr, details: serde_json::Value) {
    let mut event = AuditEvent::new(action.as_str()).ip(ip.to_string());
    event.details = details;
    if let Some(actor) = actor {
        event = event.subject(actor);
    }
    if let Err(e) = state.audit.log(event).await {
        tracing::error!(action = action.as_str(), error = %e, "audit event not recorded");
    }
}

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
