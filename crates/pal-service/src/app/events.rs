//! The security events the service records into the audit log.

use std::net::IpAddr;

use pal::audit::AuditEvent;

use crate::AppState;

/// What the service records. The action is the audit log's `action` column.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// A one-time code was sent.
    CodeSent,
    /// A verification was asked for an address with no account: no code went out.
    /// Recorded as a sent code is, so both answers take the same work.
    NoAccount,
    /// An account was created.
    Enrolled,
    /// A wrong enrollment code was given.
    EnrollmentFailed,
    /// A wrong verification code was given.
    VerificationFailed,
    /// A user signed in with a verification code.
    VerificationSucceeded,
    /// A session was ended.
    Logout,
    /// Every session of a user was ended.
    LogoutEverywhere,
    /// A request was refused by a rate limit.
    RateLimited,
}

impl Action {
    /// The action as the audit log's `action` column holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CodeSent => "code_sent",
            Action::NoAccount => "verification_no_account",
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
