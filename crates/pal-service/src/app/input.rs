//! Input the routes share: an address as stored, a configured duration as a TTL.

use std::time::Duration;

use axum::http::StatusCode;
use pal::Ttl;

use super::errors::ApiError;

/// Longest email address (RFC 5321's path limit), as the users table stores it.
const MAX_EMAIL_BYTES: usize = 320;

/// The address as stored: trimmed and lowercased (emails compare byte for byte),
/// and valid by the WHATWG HTML rule for `<input type=email>` — the rule every
/// browser applies — with a dot in the domain, since the service mails it:
/// `atext` and dots before the `@`, then labels of letters, digits and inner
/// hyphens of at most 63 characters. No quoted local parts, comments or IP
/// literals, which no sign-up form produces.
pub(super) fn email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && email.split_once('@').is_some_and(|(local, domain)| {
            local.len() <= 64 && valid_local(local) && domain.contains('.') && domain.split('.').all(valid_label)
        });
    if !valid {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_email",
            "email must be an address such as someone@example.com",
        ));
    }
    Ok(email)
}

/// One or more of the HTML rule's local-part characters.
fn valid_local(local: &str) -> bool {
    !local.is_empty() && local.bytes().all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b))
}

/// A DNS label: 1 to 63 letters, digits or hyphens, not starting or ending with one.
fn valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
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
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "a@b@c.io",
            "a@.io",
            "a@-x.io",
            "a@x-.io",
            "a@x..io",
            "<script>alert(1)</script>@x.io",
            "\"quoted\"@x.io",
            "a@[127.0.0.1]",
            "a@x.io.",
            "ü@x.io",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        for good in ["o'brien+tag@mail-1.example.co.uk", "a.b@x.io", "user!#$%&*=?^_`{|}~@x.io"] {
            assert_eq!(email(good).unwrap(), good, "{good:?}");
        }
        assert!(email(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
