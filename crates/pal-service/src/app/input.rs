//! Input the routes share: an address as stored, a configured duration as a TTL.

use std::time::Duration;

use axum::http::StatusCode;
use pal::Ttl;

use super::errors::ApiError;

/// Longest email address (RFC 5321's path limit), as the users table stores it.
const MAX_EMAIL_BYTES: usize = 320;

/// The address as stored: trimmed and lowercased, since emails compare byte for byte.
pub(super) fn email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let well_formed = email.len() <= MAX_EMAIL_BYTES
        && email.chars().all(|c| !c.is_whitespace() && !c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        });
    if !well_formed {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_email",
            "email must be an address such as someone@example.com",
        ));
    }
    Ok(email)
}

/// A configured duration as a cache TTL (the settings keep it within a TTL's range).
pub(super) fn ttl(duration: Duration) -> Result<Ttl, ApiError> {
    Ok(Ttl::new(duration)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(email("  Alice@Example.COM ").unwrap(), "alice@example.com");
        for bad in ["", "alice", "@example.com", "alice@", "alice@example", "a b@example.com", "a@b@c.io", "a@.io"] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(email(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
