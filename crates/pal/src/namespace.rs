//! Key namespaces shared by every cache and every store. The session rule is
//! written once here: the sealed cache hashes `session:<id>`, and the sealed
//! session store must find the very same row.

use crate::error::{Error, Result};

/// Sessions live under this namespace in every provider, so operators can tell
/// them apart from counters and other cached data.
pub const SESSION_NAMESPACE: &str = "session:";

/// The cache key of the session `id`.
pub fn session_key(id: &str) -> Result<String> {
    if id.is_empty() {
        return Err(Error::invalid_input("a session id must not be empty"));
    }
    Ok(format!("{SESSION_NAMESPACE}{id}"))
}
